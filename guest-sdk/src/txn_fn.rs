//! Transaction functions: the operations of one commit, computed from a snapshot.
//!
//! A transaction function reads the namespace through [`crate::snapshot`] (one durable
//! revision; every read is recorded) and returns operations. The host applies them only
//! if nothing read has changed since, under the committer's term, and runs the function
//! again when something did. It must be a pure function of the snapshot and its arguments:
//! the host gives it fixed clocks and a seeded random source, so even a `HashMap`'s random
//! state or a read of the time gives the same result on every run.
//!
//! ```no_run,standalone_crate
//! use ballot_guest::{CreateMode, Op, TxnFn, snapshot};
//!
//! struct Increment;
//!
//! impl TxnFn for Increment {
//!     fn apply(args: Vec<u8>) -> Result<Vec<Op>, String> {
//!         let path = String::from_utf8(args).map_err(|e| e.to_string())?;
//!         Ok(vec![match snapshot::get(&path) {
//!             Ok((data, stat)) => {
//!                 let count: u64 = String::from_utf8_lossy(&data).parse().unwrap_or(0);
//!                 Op::set(&path, (count + 1).to_string(), Some(stat.data_version))
//!             }
//!             Err(_) => Op::create(&path, b"1".to_vec(), CreateMode::PERSISTENT),
//!         }])
//!     }
//! }
//!
//! ballot_guest::export_txn_fn!(Increment);
//! # fn main() {}
//! ```

use crate::types::Op;

/// A transaction function. Stateless: each run starts from a fresh instance.
pub trait TxnFn {
    /// The commit's operations for `args`; an error aborts the commit.
    fn apply(args: Vec<u8>) -> Result<Vec<Op>, String>;
}

/// Exports a [`TxnFn`] as the component's `txn-fn` world.
#[macro_export]
macro_rules! export_txn_fn {
    ($function:ty) => {
        const _: () = {
            struct __BallotTxnFn;

            impl $crate::bindings::txn_fn::Guest for __BallotTxnFn {
                fn apply(
                    args: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<$crate::Op>, ::std::string::String>
                {
                    <$function as $crate::TxnFn>::apply(args)
                }
            }

            $crate::bindings::txn_fn::__export_txn_fn_world!(
                __BallotTxnFn with_types_in $crate::bindings::txn_fn
            );
        };
    };
}

pub use crate::export_txn_fn as export;
