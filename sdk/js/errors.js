// The WIT `error` variant as JavaScript errors, so a refused host call throws.

/** A host call was refused; it changed nothing. `detail` is the variant's payload (a
 * path, a reason, a term as a BigInt), or undefined. */
export class BallotError extends Error {
  /** @param {unknown} [detail] */
  constructor(detail) {
    super(detail === undefined ? new.target.name : `${new.target.name}: ${detail}`);
    this.name = new.target.name;
    this.detail = detail;
  }
}
/** The node (or, for a create, its parent) does not exist; `detail`: the path. */
export class NoNode extends BallotError {}
/** A create named a node that exists; `detail`: the path. */
export class NodeExists extends BallotError {}
/** An expected version did not match; `detail`: the path. */
export class BadVersion extends BallotError {}
/** A delete named a node with children; `detail`: the path. */
export class NotEmpty extends BallotError {}
/** A term guard failed; `detail`: the current term (BigInt), or undefined. */
export class NotLeader extends BallotError {}
/** The caller's session has expired or was closed. */
export class SessionExpired extends BallotError {}
/** The request is malformed or not allowed; `detail`: why. */
export class Invalid extends BallotError {}
/** Data or a request exceeds a size limit; `detail`: the limit. */
export class TooLarge extends BallotError {}
/** A per-session quota is used up; `detail`: which. */
export class QuotaExceeded extends BallotError {}
/** Not granted, or a write to what only the election machinery writes. */
export class Denied extends BallotError {}
/** The callback's deadline passed. */
export class Deadline extends BallotError {}
/** A transaction function aborted its commit; `detail`: the reason. */
export class TxnAborted extends BallotError {}

/** Throw from `onWinningElection` to decline the win (the host resigns the ballot and
 * votes again after a backoff), or from a transaction function's `apply` to abort its
 * commit. Any other exception crashes the instance, as a Rust panic would. */
export class Refuse extends Error {
  /** @param {string} reason */
  constructor(reason) {
    super(String(reason));
    this.name = 'Refuse';
    this.reason = String(reason);
  }
}

const BY_TAG = {
  'no-node': NoNode,
  'node-exists': NodeExists,
  'bad-version': BadVersion,
  'not-empty': NotEmpty,
  'not-leader': NotLeader,
  'session-expired': SessionExpired,
  'invalid': Invalid,
  'too-large': TooLarge,
  'quota-exceeded': QuotaExceeded,
  'denied': Denied,
  'deadline': Deadline,
  'txn-aborted': TxnAborted,
};

/** The error for a WIT `error` value (`{tag, val}`). */
export function fromWit(error) {
  const Kind = BY_TAG[error?.tag] ?? BallotError;
  return new Kind(error?.val);
}

/** Calls a generated import, throwing a BallotError for an `err` result (the bindings
 * throw an error whose `payload` is the WIT value). */
export function call(fn, ...args) {
  try {
    return fn(...args);
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e) throw fromWit(e.payload);
    throw e;
  }
}
