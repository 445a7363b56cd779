// Commits fenced by a lease elector: guarded, speculative, and previews.
import * as wit from 'ballot:election/commit@0.1.0';
import { call } from './errors.js';

/** A commit of these operations, as given. */
export const ops = (operations) => ({ tag: 'ops', val: operations });
/** A commit of the operations the transaction function `sha256` returns. */
export const fn = (sha256, args = new Uint8Array()) => ({ tag: 'function', val: { sha256, args } });
/** Commits `txn` under `peer`'s term, holding an election first if needed. */
export const guardedCommit = (elector, peer, txn) => call(wit.guardedCommit, elector, peer, txn);
/** Commits `txn` under `term` with no election; refused if the term is gone. */
export const speculativeCommit = (elector, peer, term, txn) => call(wit.speculativeCommit, elector, peer, BigInt(term), txn);
/** What `txn` would do on the last durable revision, writing nothing. */
export const preview = (txn) => call(wit.preview, txn);
