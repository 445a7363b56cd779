// Taking part in the deployment's election (candidates).
import * as wit from 'ballot:election/election@0.1.0';
import { call } from './errors.js';

const bytes = (data) => (data instanceof Uint8Array ? data : new TextEncoder().encode(String(data ?? '')));

/** Casts a new ballot with `data`, after a resign. */
export const vote = (data = new Uint8Array()) => call(wit.vote, bytes(data));
/** Withdraws the ballot (and the ack, if leading) in one step. */
export const resign = () => call(wit.resign);
/** The acknowledged leader of `election`, or undefined. */
export const leader = (election) => call(wit.leader, election);
/** As leader, replaces the ack data observers see. */
export const ack = (data) => call(wit.ack, bytes(data));
/** As leader, gives the leadership to deployment `to` (a BigInt id) or the next in line. */
export const handOff = (to) => call(wit.handOff, to === undefined ? undefined : BigInt(to));
