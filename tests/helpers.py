"""Small helpers shared by tests (not oracles: those are in oracles.py)."""


class Killed(Exception):
    """Stands for a process killed in the middle of a run."""


def kill_at(stop: int):
    """An engine callback that kills the run at the end of epoch ``stop``, before that epoch's checkpoint
    (callbacks run first): a resumed run continues from the checkpoint before."""

    def callback(epoch, record, method):
        if epoch == stop:
            raise Killed

    return callback
