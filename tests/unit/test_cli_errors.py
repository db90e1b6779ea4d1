"""The command lines' shared ending: a user error is one line and exit status 2, Ctrl-C one line and 130."""

from __future__ import annotations

from model_zoo import ZooError
from training.lib.cli import INTERRUPTED, INTERRUPTED_TRAINING, exit_on_user_error


def _interrupted() -> int:
    raise KeyboardInterrupt


def test_ctrl_c_tells_how_to_resume_only_where_a_command_trains(capsys):
    assert exit_on_user_error(_interrupted)() == 130
    assert capsys.readouterr().err.strip() == INTERRUPTED
    assert exit_on_user_error(resumable=True)(_interrupted)() == 130
    assert capsys.readouterr().err.strip() == INTERRUPTED_TRAINING


def test_a_user_error_is_one_line_and_status_2(capsys):
    @exit_on_user_error
    def broken() -> int:
        raise ZooError("model_zoo/entries/x/card.json: not JSON")

    assert broken() == 2
    assert capsys.readouterr().err == "error: model_zoo/entries/x/card.json: not JSON\n"
