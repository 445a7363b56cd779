"""A Python candidate that misbehaves when it wins, as its ballot data says: ``raise``
raises ValueError from on_winning_election, ``loop`` never returns from it (the host must
crash only this instance), ``refuse`` declines the win with ``ballot.Refuse``. With any
other data it accepts the win and does nothing."""

import ballot


class Misbehaving(ballot.Candidate):
    def on_winning_election(self, term):
        mode = bytes(ballot.deployment.whoami().ballot_data).decode()
        if mode == "raise":
            raise ValueError(f"the fixture raises on purpose under term {term}")
        if mode == "loop":
            while True:
                pass
        if mode == "refuse":
            raise ballot.Refuse(f"the fixture refuses term {term} on purpose")


WitWorld = ballot.export_candidate(Misbehaving)
