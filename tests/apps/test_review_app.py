"""The review app's logic through Streamlit's AppTest (no browser)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from medtl.review.sample import write_sample_scores
from medtl.review.store import DecisionStore

APP = str(Path(__file__).resolve().parents[2] / "apps" / "review_app.py")


def _app(monkeypatch, out: Path, db: Path) -> AppTest:
    monkeypatch.setattr(sys, "argv", ["review_app.py", "--scores", str(out), "--db", str(db)])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.fixture
def cls3(tmp_path):
    return write_sample_scores(tmp_path / "out", tmp_path / "inputs", task="classification", spatial_dims=3, n_cases=4)


def _caption(at) -> str:
    return at.get("image")[0].proto.imgs[0].caption


def test_worklist_viewer_and_decisions(monkeypatch, cls3, tmp_path):
    db = tmp_path / "review.sqlite"
    at = _app(monkeypatch, cls3, db)
    # worklist: the 4 scorable cases (the failed one is left out), least certain first
    table = at.dataframe[0].value
    assert len(table) == 4 and table["uncertainty"].tolist() == sorted(table["uncertainty"], reverse=True)
    assert at.selectbox(key="case").value == table["case_id"].iloc[0]
    # no reviewer yet: every decision button is disabled
    assert all(at.button(key=k).disabled for k in ("accept", "reject", "correct"))
    assert any("reviewer name" in w.value for w in at.warning)
    # the CAM toggle is off by default and says what it is
    cam = at.toggle(key="show_cam")
    assert cam.value is False and "model attention, not a finding" in cam.label
    # select another case, change plane, slice and window preset
    second = table["case_id"].iloc[1]
    at.selectbox(key="case").select(second).run()
    at.radio(key="plane").set_value("coronal").run()
    at.slider(key=f"slice__{second}__coronal").set_value(3).run()
    assert _caption(at).startswith("coronal slice 3")
    preset = at.selectbox(key=f"preset__{second}")
    assert preset.value == "CT soft tissue"
    preset.select("CT lung").run()
    at.toggle(key="show_cam").set_value(True).run()
    assert not at.exception and "window -1350 to 150" in _caption(at)
    # reviewer name, then accept with a comment
    at.text_input(key="reviewer_name").input("Dr Ada").run()
    assert not at.button(key="accept").disabled
    at.text_area(key=f"comment__{second}").input("clear lesion").run()
    at.button(key="accept").click().run()
    assert not at.exception
    assert at.text_area(key=f"comment__{second}").value == ""  # cleared after saving
    # manual window: starts from the CT default (400/40), then follows the numbers typed
    at.selectbox(key=f"preset__{second}").select("Manual width/level").run()
    assert at.number_input(key=f"win_w__{second}").value == 400.0
    at.number_input(key=f"win_w__{second}").set_value(100.0).run()
    at.number_input(key=f"win_l__{second}").set_value(0.0).run()
    assert "window -50 to 50" in _caption(at)
    # correct the first case to the other class
    first = table["case_id"].iloc[0]
    at.selectbox(key="case").select(first).run()
    predicted = table["predicted_label"].iloc[0]
    other = "absent" if predicted == "present" else "present"
    at.selectbox(key=f"correct__{first}").select(other).run()
    at.button(key="correct").click().run()
    current = DecisionStore(db).current()
    assert current[second].action == "accept" and current[second].reviewer == "Dr Ada"
    assert current[second].comment == "clear lesion"
    assert current[first].action == "correct" and current[first].new_value == other
    assert current[first].previous_value == predicted
    # the worklist shows the new state; "Next case" jumps to the least certain unreviewed one
    table = at.dataframe[0].value
    assert set(table.loc[table["status"] != "unreviewed", "case_id"]) == {first, second}
    at.button(key="next").click().run()
    assert at.selectbox(key="case").value == table.loc[table["status"] == "unreviewed", "case_id"].iloc[0]


def test_filters_and_sorting(monkeypatch, cls3, tmp_path):
    at = _app(monkeypatch, cls3, tmp_path / "r.sqlite")
    at.text_input(key="reviewer_name").input("Dr Ada").run()
    at.button(key="accept").click().run()
    at.multiselect(key="f_status").select("accepted").run()
    assert at.dataframe[0].value["status"].tolist() == ["accepted"]
    at.multiselect(key="f_status").unselect("accepted").run()
    at.selectbox(key="sort_by").select("confidence").run()
    conf = at.dataframe[0].value["confidence"].tolist()
    assert conf == sorted(conf)
    at.multiselect(key="f_reviewer").select("Dr Ada").run()
    assert at.dataframe[0].value["reviewer"].tolist() == ["Dr Ada"]


def test_refuses_a_decision_without_a_reviewer(monkeypatch, cls3, tmp_path):
    db = tmp_path / "r.sqlite"
    at = _app(monkeypatch, cls3, db)
    at.text_input(key="reviewer_name").input("   ").run()  # blank is not a name
    assert at.button(key="accept").disabled
    for key in ("accept", "reject", "correct"):
        with pytest.raises(AppTestError, match="disabled"):  # a browser user cannot click them either
            at.button(key=key).click()
    at.text_input(key="reviewer_name").input("Dr Ada").run()
    at.button(key="reject").click().run()
    assert [d.reviewer for d in DecisionStore(db).history()] == ["Dr Ada"]


def test_segmentation_case_shows_mask_controls(monkeypatch, tmp_path):
    out = write_sample_scores(tmp_path / "out", tmp_path / "in", task="segmentation", spatial_dims=3, n_cases=2)
    at = _app(monkeypatch, out, tmp_path / "r.sqlite")
    assert at.toggle(key="show_mask").value is True
    at.radio(key="mask_mode").set_value("outline").run()
    at.slider(key="mask_opacity").set_value(0.8).run()
    at.toggle(key="show_mask").set_value(False).run()
    assert not at.exception
    assert at.button(key="accept").label == "Mask acceptable"
    at.text_input(key="reviewer_name").input("Dr Ada").run()
    at.button(key="reject").click().run()
    (decision,) = DecisionStore(tmp_path / "r.sqlite").history()
    assert decision.new_value == "mask_not_acceptable"


def test_2d_case_and_bad_folder(monkeypatch, tmp_path):
    out = write_sample_scores(tmp_path / "out", tmp_path / "in", task="classification", spatial_dims=2, n_cases=2)
    at = _app(monkeypatch, out, tmp_path / "r.sqlite")
    assert not at.radio and at.selectbox(key=f"preset__{at.selectbox(key='case').value}").value.startswith("Ultrasound")
    monkeypatch.setattr(sys, "argv", ["review_app.py", "--scores", str(tmp_path / "nothing")])
    bad = AppTest.from_file(APP, default_timeout=60)
    bad.run()
    assert "scoring output folder not found" in bad.error[0].value


def test_oidc_configured_but_not_logged_in_cannot_decide(monkeypatch, cls3, tmp_path):
    monkeypatch.setattr(sys, "argv", ["review_app.py", "--scores", str(cls3), "--db", str(tmp_path / "r.sqlite")])
    # as if .streamlit/secrets.toml had an [auth] section (no identity provider is reachable here)
    monkeypatch.setattr("streamlit.user_info.get_secrets_auth_section", lambda: {"client_id": "medtl"})
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    assert [b.label for b in at.sidebar.button] == ["Log in"]
    assert not [t for t in at.text_input if t.key == "reviewer_name"]  # no free-text name under OIDC
    assert at.button(key="accept").disabled and at.button(key="correct").disabled


def test_two_reviewers_at_once(monkeypatch, cls3, tmp_path):
    db = tmp_path / "r.sqlite"
    ada, bob = _app(monkeypatch, cls3, db), _app(monkeypatch, cls3, db)
    case = ada.selectbox(key="case").value
    assert bob.selectbox(key="case").value == case  # both start on the least certain case
    ada.text_input(key="reviewer_name").input("Dr Ada").run()
    bob.text_input(key="reviewer_name").input("Dr Bob").run()
    ada.button(key="accept").click().run()
    bob.button(key="reject").click().run()
    first, second = DecisionStore(db).history(case_id=case)
    assert (first.reviewer, second.reviewer) == ("Dr Ada", "Dr Bob")
    assert second.previous_value == first.new_value  # Bob's decision chains on Ada's, nothing lost
    ada.run()  # Ada's worklist shows the latest state
    row = ada.dataframe[0].value.set_index("case_id").loc[case]
    assert (row["status"], row["reviewer"]) == ("rejected", "Dr Bob")


def _markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_segmentation_triage_worklist_flags_and_most_uncertain_slice(monkeypatch, tmp_path):
    from medtl.review.scores import load_scores

    out = write_sample_scores(tmp_path / "out", tmp_path / "in", task="segmentation", spatial_dims=3, n_cases=6)
    run = load_scores(out)
    at = _app(monkeypatch, out, tmp_path / "r.sqlite")
    table = at.dataframe[0].value
    # sorted by uncertainty, most uncertain first; confidence = 1 - uncertainty fills the column too
    unc = table["uncertainty"].tolist()
    assert len(unc) == 6 and unc == sorted(unc, reverse=True) and unc[0] > unc[-1]
    assert (table["confidence"] + table["uncertainty"]).round(6).eq(1.0).all()
    first = table["case_id"].iloc[0]
    assert at.selectbox(key="case").value == first
    # the slice slider opens at the case's most uncertain slice, and the caption says so
    hot = run.cases[first].uncertain_slices["axial"]
    assert hot != 12 // 2  # the sample puts it off the middle slice, so this checks the jump
    assert at.slider(key=f"slice__{first}__axial").value == hot + 1
    assert _caption(at).startswith(f"axial slice {hot + 1} (highest model uncertainty)")
    at.radio(key="plane").set_value("coronal").run()
    assert at.slider(key=f"slice__{first}__coronal").value == run.cases[first].uncertain_slices["coronal"] + 1
    # flags: a badge per flag with its reason; a filter by flag
    flagged = {cid for cid, c in run.cases.items() if any(code == "empty" for code, _ in c.flags)}
    assert flagged and len(flagged) < 6
    case = sorted(flagged)[0]
    at.selectbox(key="case").select(case).run()
    assert ":orange-badge[:material/flag: empty] nothing segmented" in _markdown(at)
    at.multiselect(key="f_flag").select("empty").run()
    kept = at.dataframe[0].value
    assert set(kept["case_id"]) == flagged and all("empty" in f for f in kept["flags"])
    assert kept["uncertainty"].tolist() == sorted(kept["uncertainty"], reverse=True)
    # the entropy overlay is off by default and labelled as model uncertainty
    overlay = at.toggle(key="show_entropy")
    assert overlay.value is False and "model uncertainty" in overlay.label
    overlay.set_value(True).run()
    assert not at.exception


def test_segmentation_folder_from_before_triage_still_opens(monkeypatch, tmp_path):
    out = write_sample_scores(tmp_path / "out", tmp_path / "in", task="segmentation", spatial_dims=3, n_cases=3,
                              triage=False)
    at = _app(monkeypatch, out, tmp_path / "r.sqlite")
    table = at.dataframe[0].value
    assert len(table) == 3 and table["uncertainty"].isna().all() and "flags" not in table.columns
    assert not [m for m in at.multiselect if m.key == "f_flag"]
    assert not [t for t in at.toggle if t.key == "show_entropy"]
    case = at.selectbox(key="case").value
    assert at.slider(key=f"slice__{case}__axial").value == 12 // 2 + 1  # the middle slice, as before
    assert "highest model uncertainty" not in _caption(at)
