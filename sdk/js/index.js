// ballot's guest SDK for JavaScript: write a candidate, an observer or a transaction
// function as a class, and build it into a component with componentize-js.
//
// What `ballot-guest` is to Rust: base classes whose callbacks default to doing nothing,
// one function per host import that throws a BallotError subclass instead of returning a
// WIT result (in `ballot-sdk/namespace`, `ballot-sdk/election`, ... one module per WIT
// interface, since each world has its own), operation builders, and CBOR (cborg). Terms,
// revisions and versions are u64 in WIT, so BigInt here.
//
//     import { Candidate, exportCandidate } from 'ballot-sdk';
//     import * as log from 'ballot-sdk/log';
//     class Worker extends Candidate {
//       onWinningElection(term) { log.info(`leading under term ${term}`); }
//     }
//     export const { onWinningElection, onLosingElection, onNewLeader, onEvent, tick } =
//       exportCandidate(Worker);

import { encode, decode } from 'cborg';

/**
 * The WIT types as the bindings give them (u64 as BigInt, records with camelCase fields).
 * @typedef {bigint} Term
 * @typedef {{ dataVersion: bigint, childrenVersion: bigint, created: bigint, modified: bigint, ephemeral: boolean, numChildren: number }} Stat
 * @typedef {{ path: string, data: Uint8Array, stat: Stat }} Node
 * @typedef {{ id: bigint, name: string }} DeploymentRef
 * @typedef {{ candidate: bigint, term: Term, data: Uint8Array, deployment?: DeploymentRef }} Leader
 * @typedef {{ lifetime: 'persistent' | 'ephemeral', sequential: boolean }} CreateMode
 * @typedef {{ tag: 'create' | 'set' | 'delete' | 'check', val: object }} Op
 * @typedef {{ election: string, term: Term }} TermGuard
 * @typedef {{ path: string, kind: 'created' | 'data-changed' | 'deleted' | 'children-changed', revision: bigint }} WatchEvent
 */
import { Refuse } from './errors.js';

export * from './errors.js';

/** CBOR, the namespace's convention for structured data. `decode` gives BigInt only for
 * integers beyond 2^53. */
export const cbor = {
  /** @param {unknown} value @returns {Uint8Array} */
  encode: (value) => encode(value),
  /** @param {Uint8Array} bytes */
  decode: (bytes) => decode(bytes instanceof Uint8Array ? bytes : Uint8Array.from(bytes)),
};

/** A node that stays until deleted. */
export const PERSISTENT = Object.freeze({ lifetime: 'persistent', sequential: false });
/** A persistent node whose name gets the parent's next sequence number. */
export const PERSISTENT_SEQUENTIAL = Object.freeze({ lifetime: 'persistent', sequential: true });
/** A node owned by the caller's session, deleted when it ends. */
export const EPHEMERAL = Object.freeze({ lifetime: 'ephemeral', sequential: false });
/** An ephemeral node with a sequence number: the recipe's ballots. */
export const EPHEMERAL_SEQUENTIAL = Object.freeze({ lifetime: 'ephemeral', sequential: true });

const bytes = (data) => (data instanceof Uint8Array ? data : new TextEncoder().encode(String(data ?? '')));
const version = (expected) => (expected === undefined || expected === null ? undefined : BigInt(expected));

/** An operation creating `path` with `data`. */
/** @param {string} path @param {Uint8Array | string} [data] @param {CreateMode} [mode] @returns {Op} */
export const create = (path, data = new Uint8Array(), mode = PERSISTENT) =>
  ({ tag: 'create', val: { path, data: bytes(data), mode } });
/** An operation replacing `path`'s data, if its data version is `expected`. */
/** @param {string} path @param {Uint8Array | string} data @param {bigint | number} [expected] @returns {Op} */
export const set = (path, data, expected) =>
  ({ tag: 'set', val: { path, data: bytes(data), expected: version(expected) } });
/** An operation deleting the childless `path`, if its data version is `expected`. */
export const del = (path, expected) => ({ tag: 'delete', val: { path, expected: version(expected) } });
/** An operation requiring that `path` exists (at version `expected`). */
export const check = (path, expected) => ({ tag: 'check', val: { path, expected: version(expected) } });
/** The fence of a leader's writes: the multi applies only while the caller holds `term`
 * of `election`. */
/** @param {string} election @param {Term | number} term @returns {TermGuard} */
export const guard = (election, term) => ({ election, term: BigInt(term) });

/** A candidate: override what you need; every callback does nothing by default (and
 * winning accepts the win). */
export class Candidate {
  /** Leads under `term` (BigInt); returning acks the win, throwing Refuse declines it.
   * @param {Term} term */
  onWinningElection(term) {}
  /** Lost to `leader`. @param {Leader} leader */
  onLosingElection(leader) {}
  /** A new leader acknowledged (only when deployed with --follow). @param {Leader} leader */
  onNewLeader(leader) {}
  /** A watch this candidate registered fired. @param {WatchEvent} event */
  onEvent(event) {}
  /** Called every --tick-ms while deployed with one. */
  tick() {}
}

/** An observer: follows an election's leaders without standing in it. */
export class Observer {
  /** A leader acknowledged (or re-acknowledged with new data). */
  onNewLeader(leader) {}
  /** The leader of `term` is gone. */
  onLeadersDeath(term) {}
}

/** A transaction function: reads a snapshot (`ballot-sdk/snapshot`) and returns the
 * operations of one commit. */
export class TxnFn {
  /** @param {Uint8Array} args @returns {Array<object>} */
  apply(args) {
    throw new Refuse('apply is not implemented');
  }
}

// One instance of the user's class, made at the first callback (imports cannot be called
// while componentize-js pre-initializes the module at build time).
function once(Cls) {
  let instance;
  return () => (instance ??= new Cls());
}

// A Refuse becomes the export's `err` (componentize-js returns `err(payload)` for a thrown
// value with a `payload`). Anything else traps the instance, as it would from an export
// without a result; it is written to stderr first, so the host's crash reason names it
// (the bindings' own complaint about a non-string error follows it).
function refusing(fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Refuse) throw { payload: e.reason };
    console.error(`${e}\nStack:\n${String(e?.stack ?? '').replace(/^/gm, '  ')}`);
    throw e;
  }
}

/** The `candidate` world's exports for a Candidate subclass: destructure them into the
 * module's exports. */
export function exportCandidate(Cls) {
  const worker = once(Cls);
  return {
    onWinningElection: (term) => refusing(() => { worker().onWinningElection(term); }),
    onLosingElection: (leader) => worker().onLosingElection(leader),
    onNewLeader: (leader) => worker().onNewLeader(leader),
    onEvent: (event) => worker().onEvent(event),
    tick: () => worker().tick(),
  };
}

/** The `observer` world's exports for an Observer subclass. */
export function exportObserver(Cls) {
  const worker = once(Cls);
  return {
    onNewLeader: (leader) => worker().onNewLeader(leader),
    onLeadersDeath: (term) => worker().onLeadersDeath(term),
  };
}

/** The `txn-fn` world's export for a TxnFn subclass. Each commit runs in a fresh
 * instance. */
export function exportTxnFn(Cls) {
  const worker = once(Cls);
  return { apply: (args) => refusing(() => Array.from(worker().apply(args))) };
}
