// A JavaScript observer that logs every leader it hears of and every leader's death.
import { Observer, exportObserver } from 'ballot-sdk';
import * as log from 'ballot-sdk/log';

class Watcher extends Observer {
  onNewLeader(leader) {
    log.info(`js observer: candidate ${leader.candidate} leads under term ${leader.term}`);
  }

  onLeadersDeath(term) {
    log.info(`js observer: the leader of term ${term} is gone`);
  }
}

export const { onNewLeader, onLeadersDeath } = exportObserver(Watcher);
