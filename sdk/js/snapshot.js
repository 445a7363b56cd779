// Read-only reads of one durable revision (transaction functions). The host records every
// read, so the commit runs again if anything read changed.
import * as wit from 'ballot:election/snapshot@0.1.0';
import { call } from './errors.js';

/** The revision every read sees (BigInt). */
export const revision = () => wit.revision();
/** A node's [data, stat]. */
export const get = (path) => {
  const [data, stat] = call(wit.get, path);
  return [Uint8Array.from(data), stat];
};
/** The names of a node's children, in order. */
export const children = (path) => call(wit.children, path);
