// A JavaScript candidate that calls every kind of host import once when it wins and logs
// what each answered, so a test can check the SDK's wrappers against the host: a delete,
// a refused read (NoNode), the lease elector, a guarded commit, a term guard refused with
// NotLeader (its detail the current term), the election's leader and whoami.
import { Candidate, NoNode, NotLeader, create, exportCandidate, guard } from 'ballot-sdk';
import * as commit from 'ballot-sdk/commit';
import { whoami } from 'ballot-sdk/deployment';
import * as election from 'ballot-sdk/election';
import * as elector from 'ballot-sdk/elector';
import * as log from 'ballot-sdk/log';
import * as namespace from 'ballot-sdk/namespace';

class Surface extends Candidate {
  onWinningElection(term) {
    namespace.create('/surface-js');
    namespace.del('/surface-js');
    try {
      namespace.get('/surface-js');
      log.info('get: still there');
    } catch (e) {
      if (!(e instanceof NoNode)) throw e;
      log.info(`get: NoNode ${e.detail}`);
    }
    elector.resetElector('surface-js-jobs', 5000, 'p1');
    const outcome = elector.electForDuration('surface-js-jobs', 'p1');
    log.info(`elector: ${outcome.tag}`);
    const committed = commit.guardedCommit(
      'surface-js-jobs', 'p1', commit.ops([create('/surface-js-commit', 'x')]));
    log.info(`commit: attempts ${committed.attempts}`);
    const me = whoami();
    try {
      namespace.multi([create('/surface-js-never')], guard(me.election, term + 1000n));
    } catch (e) {
      if (!(e instanceof NotLeader)) throw e;
      log.info(`guard: NotLeader ${e.detail === term}`);
    }
    log.info(`leader before the ack: ${election.leader(me.election) ?? 'none'}`);
    log.info(`whoami: ${me.name} ${me.election}`);
  }
}

export const { onWinningElection, onLosingElection, onNewLeader, onEvent, tick } =
  exportCandidate(Surface);
