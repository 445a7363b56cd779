// The namespace, as the caller's session sees it (candidates and observers). Every call is
// one atomic step and throws a BallotError when refused.
import * as wit from 'ballot:election/namespace@0.1.0';
import { call } from './errors.js';
import { PERSISTENT } from './index.js';

const bytes = (data) => (data instanceof Uint8Array ? data : new TextEncoder().encode(String(data ?? '')));
const version = (expected) => (expected === undefined || expected === null ? undefined : BigInt(expected));

/** Creates a node; returns its full path (with any sequence number). */
export const create = (path, data = new Uint8Array(), mode = PERSISTENT) => call(wit.create, path, bytes(data), mode);
/** A node: {path, data, stat: {dataVersion, childrenVersion, created, modified, ephemeral, numChildren}}. */
export const get = (path) => {
  const node = call(wit.get, path);
  return { ...node, data: Uint8Array.from(node.data) };
};
/** The children's names, in order. */
export const children = (path) => call(wit.children, path);
/** Replaces a node's data if its data version is `expected`; returns its stat. */
export const set = (path, data, expected) => call(wit.set, path, bytes(data), version(expected));
/** Deletes a childless node if its data version is `expected`. */
export const del = (path, expected) => call(wit['delete'], path, version(expected));
/** Registers a watch ('data', 'exists', 'children' or 'subtree'); it fires through onEvent. */
export const watch = (path, kind = 'data') => call(wit.watch, path, kind);
/** Applies `ops` all or nothing; with `guard` only while the caller holds that term. */
export const multi = (ops, guard) => call(wit.multi, ops, guard);
