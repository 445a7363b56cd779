// The example candidate in JavaScript: the same leader-only work as the Rust
// `example-candidate`, every write fenced by its term.
//
// It stands in the election it is deployed into (`example` in the README). When it wins
// under term T it writes `/example/leader` = CBOR {name: "js-candidate", term: T,
// version: 1} in one multi guarded by "holds T" (creating `/example` if missing). On every
// tick while it leads it bumps `/example/ticks` (CBOR {count, term}) with a set at the
// version it read, under the same guard. A refused guard (not-leader) ends its leader
// work until it wins again.

import {
  BadVersion, BallotError, Candidate, NoNode, NodeExists, NotLeader,
  cbor, create, exportCandidate, guard, set,
} from 'ballot-sdk';
import * as namespace from 'ballot-sdk/namespace';
import * as log from 'ballot-sdk/log';
import { whoami } from 'ballot-sdk/deployment';

const NAME = 'js-candidate';
const VERSION = 1;
const ROOT = '/example';
const LEADER = '/example/leader';
const TICKS = '/example/ticks';
const ATTEMPTS = 3;

// An operation writing `data` to `path` whether or not it exists yet, refused if the node
// changes between this read and the multi.
function upsert(path, data) {
  try {
    const node = namespace.get(path);
    return set(path, data, node.stat.dataVersion);
  } catch (e) {
    if (e instanceof NoNode) return create(path, data);
    throw e;
  }
}

// Runs `write` again when a concurrent change beat it.
function retry(write) {
  for (let attempt = 1; ; attempt++) {
    try {
      return write();
    } catch (e) {
      const raced = e instanceof BadVersion || e instanceof NodeExists || e instanceof NoNode;
      if (!raced || attempt === ATTEMPTS) throw e;
    }
  }
}

class Worker extends Candidate {
  constructor() {
    super();
    this.leading = undefined;
    this.election = whoami().election;
  }

  onWinningElection(term) {
    try {
      namespace.create(ROOT);
    } catch (e) {
      if (!(e instanceof NodeExists)) throw e;
    }
    // Terms are u64, so BigInt; CBOR writes them as plain integers.
    const record = cbor.encode({ name: NAME, term, version: VERSION });
    retry(() => namespace.multi([upsert(LEADER, record)], guard(this.election, term)));
    log.info(`${NAME} v${VERSION} leads under term ${term}`);
    this.leading = term;
  }

  onLosingElection(leader) {
    log.info(`${NAME}: candidate ${leader.candidate} leads under term ${leader.term}`);
    this.leading = undefined;
  }

  onNewLeader(leader) {
    if (this.leading !== undefined && this.leading !== leader.term) {
      log.warn(`${NAME}: deposed by term ${leader.term}`);
      this.leading = undefined;
    }
  }

  tick() {
    const term = this.leading;
    if (term === undefined) return;
    try {
      const count = retry(() => this.bumpTicks(term));
      log.debug(`${NAME}: tick ${count} under term ${term}`);
    } catch (e) {
      if (e instanceof NotLeader) {
        log.warn(`${NAME}: term ${term} is over (current: ${e.detail}); stopping leader work`);
        this.leading = undefined;
      } else if (e instanceof BallotError) {
        log.warn(`${NAME}: tick under term ${term} failed: ${e.message}`);
      } else {
        throw e;
      }
    }
  }

  bumpTicks(term) {
    let count;
    let op;
    try {
      const node = namespace.get(TICKS);
      count = Number(cbor.decode(node.data).count ?? 0) + 1;
      op = set(TICKS, cbor.encode({ count, term }), node.stat.dataVersion);
    } catch (e) {
      if (!(e instanceof NoNode)) throw e;
      count = 1;
      op = create(TICKS, cbor.encode({ count, term }));
    }
    namespace.multi([op], guard(this.election, term));
    return count;
  }
}

export const { onWinningElection, onLosingElection, onNewLeader, onEvent, tick } =
  exportCandidate(Worker);
