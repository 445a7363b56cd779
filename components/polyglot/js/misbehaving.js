// A JavaScript candidate that misbehaves when it wins, as its ballot data says: `raise`
// throws from onWinningElection, `loop` never returns from it (the host must crash only
// this instance), `refuse` declines the win with Refuse. With any other data it accepts
// the win and does nothing.
import { Candidate, Refuse, exportCandidate } from 'ballot-sdk';
import { whoami } from 'ballot-sdk/deployment';

class Misbehaving extends Candidate {
  onWinningElection(term) {
    const mode = new TextDecoder().decode(Uint8Array.from(whoami().ballotData));
    if (mode === 'raise') throw new Error(`the fixture throws on purpose under term ${term}`);
    if (mode === 'loop') for (;;) {}
    if (mode === 'refuse') throw new Refuse(`the fixture refuses term ${term} on purpose`);
  }
}

export const { onWinningElection, onLosingElection, onNewLeader, onEvent, tick } =
  exportCandidate(Misbehaving);
