"""A Python observer that logs every leader it hears of and every leader's death."""

import ballot


class Watcher(ballot.Observer):
    def on_new_leader(self, leader):
        ballot.log.info(f"python observer: candidate {leader.candidate} leads under term {leader.term}")

    def on_leaders_death(self, term):
        ballot.log.info(f"python observer: the leader of term {term} is gone")


WitWorld = ballot.export_observer(Watcher)
