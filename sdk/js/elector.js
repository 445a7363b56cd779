// The lease elector: one master at a time among a named set of peers.
import * as wit from 'ballot:election/elector@0.1.0';
import { call } from './errors.js';

/** Adds `peer` to elector `name`, creating it with `durationMs`. */
export const resetElector = (name, durationMs, peer) => call(wit.resetElector, name, BigInt(durationMs), peer);
/** Wins, renews or says who holds the lease: {tag: 'won'|'renewed', val: term} or {tag: 'held', val: {master, term, leftMs}}. */
export const electForDuration = (name, peer) => call(wit.electForDuration, name, peer);
