#!/usr/bin/env node
// Builds a ballot component from an ES module:
//
//     ballot-componentize-js --wit WIT_DIR --world candidate|observer|txn-fn SOURCE.js -o OUT.wasm
//
// Two steps: rolldown bundles the module with this SDK and its dependencies (cborg) into
// one file, leaving the host's `ballot:election/...` imports external; componentize-js
// builds the component from it, without `wasi:http` and the fetch event (which a ballot
// host does not grant), so the component imports only what a ballot host links.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { componentize } from '@bytecodealliance/componentize-js';
import { rolldown } from 'rolldown';

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WORLDS = ['candidate', 'observer', 'txn-fn'];

function usage(problem) {
  console.error(`error: ${problem}`);
  console.error('usage: ballot-componentize-js --wit WIT_DIR --world candidate|observer|txn-fn SOURCE.js -o OUT.wasm');
  process.exit(2);
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    wit: { type: 'string' },
    world: { type: 'string' },
    out: { type: 'string', short: 'o' },
  },
});
if (positionals.length !== 1) usage('give exactly one source module');
if (!values.wit) usage('--wit is required (the ballot repository\'s wit/ directory)');
if (!WORLDS.includes(values.world)) usage(`--world must be one of ${WORLDS.join(', ')}`);
if (!values.out) usage('-o OUT.wasm is required');

// `ballot-sdk` and its subpaths resolve to this SDK wherever the source lives; the host's
// interfaces stay imports of the component.
const sdk = {
  name: 'ballot-sdk',
  resolveId(id) {
    if (id.startsWith('ballot:')) return { id, external: true };
    if (id === 'ballot-sdk') return join(SDK, 'index.js');
    if (id.startsWith('ballot-sdk/')) return join(SDK, `${id.slice('ballot-sdk/'.length)}.js`);
    return null;
  },
};

const work = await mkdtemp(join(tmpdir(), 'ballot-js-'));
try {
  const bundled = join(work, 'bundle.js');
  const bundle = await rolldown({
    input: resolve(positionals[0]),
    plugins: [sdk],
    platform: 'neutral',
    logLevel: 'warn',
  });
  await bundle.write({ file: bundled, format: 'esm' });
  await bundle.close();
  const { component } = await componentize({
    sourcePath: bundled,
    witPath: resolve(values.wit),
    worldName: values.world,
    disableFeatures: ['http', 'fetch-event'],
  });
  await writeFile(values.out, component);
} finally {
  await rm(work, { recursive: true, force: true });
}
