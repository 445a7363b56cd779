"""A Python candidate that calls every kind of host import once when it wins and logs what
each answered, so a test can check the SDK's wrappers against the host: a delete, a
refused read (NoNode), the lease elector, a guarded commit, a term guard refused with
NotLeader (its detail the current term), the election's leader and whoami."""

import ballot
from ballot import commit, election, elector, log, namespace


class Surface(ballot.Candidate):
    def on_winning_election(self, term):
        namespace.create("/surface-py")
        namespace.delete("/surface-py")
        try:
            namespace.get("/surface-py")
            log.info("get: still there")
        except ballot.NoNode as refused:
            log.info(f"get: NoNode {refused.detail}")
        elector.reset_elector("surface-py-jobs", 5000, "p1")
        outcome = elector.elect_for_duration("surface-py-jobs", "p1")
        log.info(f"elector: {type(outcome).__name__}")
        committed = commit.guarded_commit(
            "surface-py-jobs", "p1", commit.ops([ballot.create("/surface-py-commit", b"x")])
        )
        log.info(f"commit: attempts {committed.attempts}")
        me = ballot.deployment.whoami()
        try:
            namespace.multi([ballot.create("/surface-py-never")], ballot.guard(me.election, term + 1000))
        except ballot.NotLeader as refused:
            log.info(f"guard: NotLeader {refused.detail == term}")
        log.info(f"leader before the ack: {election.leader(me.election)}")
        log.info(f"whoami: {me.name} {me.election}")


WitWorld = ballot.export_candidate(Surface)
