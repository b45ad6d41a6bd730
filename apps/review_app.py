"""medtl review app: worklist, viewer and decisions over one scoring output folder.

Run with ``medtl review --scores OUT_DIR [--db REVIEW.sqlite]`` or
``streamlit run apps/review_app.py -- --scores OUT_DIR --db REVIEW.sqlite``.
Reads only the scoring output folder and the decisions database: no model, no torch.
Rendering, worklist logic and storage live in ``medtl.review`` (unit-tested without Streamlit).
Keyboard: A accept, X reject, N next case (Streamlit's native button shortcuts; they are ignored
while typing in a text box; R is reserved by Streamlit for "rerun").
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st

from medtl.errors import MedtlError
from medtl.review import viewer, worklist
from medtl.review.actions import MASK_NOT_OK, MASK_OK, decide
from medtl.review.presets import load_settings
from medtl.review.scores import load_preview, load_scores
from medtl.review.store import DecisionStore

MANUAL = "Manual width/level"
CAM_LABEL = "Grad-CAM heatmap (model attention, not a finding)"
ENTROPY_LABEL = "Entropy map (model uncertainty, not a finding)"
KEYS = {"accept": "A", "reject": "X", "next": "N"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="review_app.py")
    p.add_argument("--scores", required=True, type=Path)
    p.add_argument("--db", type=Path)
    p.add_argument("--config", type=Path, help="review settings YAML (default configs/review.yaml)")
    args, _ = p.parse_known_args(argv)
    args.db = args.db or args.scores / "review.sqlite"
    return args


@st.cache_resource(show_spinner=False)
def get_store(db: str) -> DecisionStore:
    return DecisionStore(db)  # thread-safe: one sqlite connection per Streamlit script thread


@st.cache_resource(show_spinner=False, max_entries=4)
def get_run(root: str, _stamp: float):
    return load_scores(root)


@st.cache_resource(show_spinner=False, max_entries=16)
def get_preview(root: str, _stamp: float, case_id: str):
    return load_preview(get_run(root, _stamp), case_id)


@st.cache_data(show_spinner=False, max_entries=64)
def percentile_bounds(root: str, _stamp: float, case_id: str, low: float, high: float) -> tuple[float, float]:
    return viewer.percentile_bounds(get_preview(root, _stamp, case_id).image, low, high)


def current_reviewer() -> str | None:
    """OIDC identity (st.user) when authentication is configured, else the name typed once per
    browser session. Never anonymous: ``None`` disables every decision button."""
    if "is_logged_in" in st.user:  # the key exists only when [auth] is configured in secrets.toml
        if st.user.is_logged_in:
            st.sidebar.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}")
            st.sidebar.button("Log out", on_click=st.logout)
            return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))
        st.sidebar.button("Log in", on_click=st.login, type="primary")
        return None
    name = st.sidebar.text_input("Reviewer name", key="reviewer_name", help="Recorded with every decision.")
    return name.strip() or None


def sidebar_filters(rows: list[worklist.WorklistRow]) -> list[worklist.WorklistRow]:
    sb = st.sidebar
    sb.subheader("Worklist")
    statuses = sb.multiselect("Status", worklist.STATUSES, key="f_status")
    labels = sb.multiselect("Predicted label", sorted({r.predicted_label or "" for r in rows}), key="f_label")
    reviewers = sb.multiselect("Reviewer", sorted({r.reviewer or "" for r in rows}), key="f_reviewer",
                               format_func=lambda r: r or "(none)")
    codes = sorted({c for r in rows for c in r.flags.split(", ") if c})
    flags = sb.multiselect("Quality flag", codes, key="f_flag", help="Cases with any of these flags") if codes else []
    unc = sb.slider("Uncertainty", 0.0, 1.0, (0.0, 1.0), 0.01, key="f_unc")
    text = sb.text_input("Case id contains", key="f_text")
    by = sb.selectbox("Sort by", worklist.SORT_KEYS, key="sort_by",
                      format_func=lambda k: "least certain unreviewed first" if k == "priority" else k)
    desc = sb.checkbox("Descending", key="sort_desc")
    kept = worklist.filter_rows(rows, statuses=statuses, labels=labels, reviewers=reviewers,
                                uncertainty=None if unc == (0.0, 1.0) else unc, text=text, flags=flags)
    return worklist.sort_rows(kept, by, desc)


def go_next(rows: list[worklist.WorklistRow]) -> None:
    nxt = worklist.next_case(rows, st.session_state.get("case"))
    if nxt is None:
        st.session_state["flash"] = ("info", "No unreviewed case left in this worklist.")
    else:
        st.session_state["case"] = nxt


def on_table_select(ids: list[str]) -> None:
    picked = st.session_state["table"].selection.rows
    if picked:
        st.session_state["case"] = ids[picked[0]]


def record(store: DecisionStore, run, case_id: str, reviewer: str | None, action: str) -> None:
    """Button callback: append the decision, then clear the comment box."""
    if not reviewer:
        st.session_state["flash"] = ("error", "Enter your reviewer name first.")
        return
    comment_key = f"comment__{case_id}"
    try:
        d = decide(store, run, case_id, reviewer=reviewer, action=action,
                   corrected=st.session_state.get(f"correct__{case_id}"), comment=st.session_state.get(comment_key, ""))
    except MedtlError as exc:
        st.session_state["flash"] = ("error", str(exc))
        return
    st.session_state[comment_key] = ""
    st.session_state["flash"] = ("success", f"{case_id}: {d.action} ({d.new_value or 'no label'}) by {d.reviewer}")


def show_viewer(args, stamp: float, run, case_id: str, settings) -> None:
    try:
        pv = get_preview(str(args.scores), stamp, case_id)
    except MedtlError as exc:
        st.warning(f"No image to show: {exc}")
        return
    info = run.cases[case_id]
    spatial = len(pv.spacing)
    plane, index = "axial", None
    top, bottom = st.columns(2), st.columns(2)
    if spatial == 3:
        plane = top[0].radio("Plane", viewer.PLANES, horizontal=True, key="plane")
        n = viewer.n_slices(pv.image.shape, plane)
        hot = info.uncertain_slices.get(plane)  # opens where the model was least sure
        start = hot + 1 if hot is not None and hot < n else n // 2 + 1
        index = top[1].slider("Slice", 1, n, start, key=f"slice__{case_id}__{plane}",
                              help="Opens at the slice of highest model uncertainty" if hot is not None else None) - 1
    names = settings.preset_names(info.modality) + [MANUAL]
    preset_name = bottom[0].selectbox("Window preset", names, index=names.index(settings.default_for(info.modality)),
                                      key=f"preset__{case_id}")
    def preset_bounds(name: str) -> tuple[float, float]:
        pr = settings.presets[name]
        return (viewer.window_bounds(pr.width, pr.level) if pr.kind == "window"
                else percentile_bounds(str(args.scores), stamp, case_id, pr.low, pr.high))

    if preset_name == MANUAL:  # starts from the modality's default window
        lo, hi = preset_bounds(settings.default_for(info.modality))
        width = bottom[1].number_input("Window width", min_value=1e-3, value=float(hi - lo), key=f"win_w__{case_id}")
        level = bottom[1].number_input("Window level", value=float((hi + lo) / 2), key=f"win_l__{case_id}")
        bounds = viewer.window_bounds(width, level)
    else:
        bounds = preset_bounds(preset_name)
    show_mask = show_cam = False
    opacity, mode = settings.opacity, "fill"
    if pv.mask is not None:
        c1, c2, c3 = st.columns(3)
        show_mask = c1.toggle("Mask overlay", value=True, key="show_mask")
        opacity = c2.slider("Opacity", 0.0, 1.0, settings.opacity, 0.05, key="mask_opacity")
        mode = c3.radio("Style", ("fill", "outline"), horizontal=True, key="mask_mode")
    if pv.cam is not None:
        show_cam = st.toggle(CAM_LABEL, value=False, key="show_cam",
                             help="Where the model looked (Grad-CAM). It is not a finding or a diagnosis.")
    heat = pv.cam
    if pv.entropy is not None:
        show_cam = st.toggle(ENTROPY_LABEL, value=False, key="show_entropy",
                             help="Voxel-wise predictive entropy: bright where the model hesitated between labels.")
        heat = pv.entropy
    plane_view = viewer.extract_plane(pv.image, pv.spacing, plane=plane, index=index, mask=pv.mask, cam=heat,
                                      affine=pv.affine, rgb=pv.rgb)
    rgb = viewer.render(plane_view, bounds, show_mask=show_mask, mask_opacity=opacity, mask_mode=mode,
                        show_cam=show_cam, cam_opacity=settings.cam_opacity, colors=settings.colors,
                        max_side=settings.max_side, min_side=settings.min_side)
    where = f"{plane} slice {index + 1}" if spatial == 3 else "2D image"
    if spatial == 3 and info.uncertain_slices.get(plane) == index:
        where += " (highest model uncertainty)"
    st.image(rgb, caption=f"{where} · window {bounds[0]:.0f} to {bounds[1]:.0f}", width="content")


def show_case_panel(store: DecisionStore, run, case_id: str, reviewer: str | None, rows) -> None:
    info = run.cases[case_id]
    st.markdown(f"**{case_id}**")
    spacing = " x ".join(f"{s:g}" for s in info.spacing) or "n/a"
    st.caption(f"Modality {info.modality or 'n/a'} · shape {tuple(info.shape) or 'n/a'} · spacing {spacing} mm")
    if run.task == "classification":
        st.markdown(f"Predicted: **{info.predicted_label or 'n/a'}**")
    c1, c2 = st.columns(2)
    c1.metric("Confidence", f"{info.confidence:.2f}" if info.confidence is not None else "n/a")
    c2.metric("Uncertainty", f"{info.uncertainty:.2f}" if info.uncertainty is not None else "n/a")
    for code, reason in info.flags:
        st.markdown(f":orange-badge[:material/flag: {code}] {reason}")
    if run.task == "classification":
        probs = pd.DataFrame({"class": list(info.probabilities), "probability": list(info.probabilities.values())})
        st.dataframe(probs, hide_index=True, column_config={
            "probability": st.column_config.ProgressColumn("probability", min_value=0.0, max_value=1.0, format="%.3f")})
    else:
        for sizes, unit in ((info.volumes_ml, "volume (mL)"), (info.areas_mm2, "area (mm²)")):
            if sizes:
                st.dataframe(pd.DataFrame({"label": list(sizes), unit: list(sizes.values())}), hide_index=True)
    history = store.history(case_id=case_id, model_id=run.model_id)
    status = next(r.status for r in rows if r.case_id == case_id)
    st.write(f"Status: **{status}**" + (f" by {history[-1].reviewer}" if history else ""))
    if not reviewer:
        st.warning("Enter your reviewer name in the sidebar to record decisions.")
    st.text_area("Comment", key=f"comment__{case_id}", height=80)
    accept, reject = ("Accept", "Reject") if run.task == "classification" else ("Mask acceptable", "Mask not acceptable")
    c1, c2 = st.columns(2)
    off = reviewer is None
    c1.button(accept, key="accept", type="primary", disabled=off, shortcut=KEYS["accept"],
              on_click=record, args=(store, run, case_id, reviewer, "accept"))
    c2.button(reject, key="reject", disabled=off, shortcut=KEYS["reject"],
              on_click=record, args=(store, run, case_id, reviewer, "reject"))
    if run.task == "classification":
        labels = run.label_names
        default = labels.index(info.predicted_label) if info.predicted_label in labels else 0
        c1, c2 = st.columns([2, 1])
        c1.selectbox("Correct class", labels, index=default, key=f"correct__{case_id}")
    else:
        c1, c2 = st.columns([2, 1])
        c1.selectbox("Mask verdict", (MASK_OK, MASK_NOT_OK), key=f"correct__{case_id}")
    c2.button("Save correction", key="correct", disabled=off, on_click=record,
              args=(store, run, case_id, reviewer, "correct"))
    if history:
        with st.expander(f"History ({len(history)})"):
            st.dataframe(pd.DataFrame([asdict(d) for d in history]).drop(columns=["id", "model_id", "case_id"]),
                         hide_index=True)


def main() -> None:
    st.set_page_config(page_title="medtl review", layout="wide")
    try:
        args = parse_args(sys.argv[1:])
    except SystemExit:
        st.error("Start the app with: medtl review --scores OUT_DIR [--db REVIEW.sqlite]")
        st.stop()
    try:
        stamp = (args.scores / "predictions.csv").stat().st_mtime
    except OSError:
        stamp = 0.0
    try:
        run = get_run(str(args.scores), stamp)
        store = get_store(str(args.db))
        settings = load_settings(args.config)
    except MedtlError as exc:
        st.error(str(exc))
        st.stop()
    reviewer = current_reviewer()
    all_rows = worklist.build_worklist(run.cases.values(), store.current(run.model_id))
    rows = sidebar_filters(all_rows)
    done = sum(r.status != "unreviewed" for r in all_rows)
    st.sidebar.caption(f"{done}/{len(all_rows)} reviewed · {run.failed} failed to score · keys: "
                       f"{KEYS['accept']} accept, {KEYS['reject']} reject, {KEYS['next']} next")

    st.markdown("### medtl review")
    if not all_rows:
        st.info("This scoring run has no case to review.")
        st.stop()
    ids = [r.case_id for r in rows] or [r.case_id for r in all_rows]
    if st.session_state.get("case") not in run.cases:
        st.session_state["case"] = worklist.next_case(all_rows) or all_rows[0].case_id
    if st.session_state["case"] not in ids:
        ids = [st.session_state["case"], *ids]
    flash = st.session_state.pop("flash", None)
    if flash:
        getattr(st, flash[0])(flash[1])
    table = pd.DataFrame([r.as_dict() for r in rows], columns=list(worklist.WorklistRow.__dataclass_fields__))
    table[["reviewer", "decided_at"]] = table[["reviewer", "decided_at"]].fillna("")
    if not any(r.flags for r in all_rows):
        table = table.drop(columns=["flags"])
    numbers = {c: st.column_config.NumberColumn(c, format="%.3f") for c in ("confidence", "uncertainty")}
    st.dataframe(table, hide_index=True, column_config=numbers, height=min(36 * (len(rows) + 1) + 4, 220), key="table",
                 on_select=lambda: on_table_select([r.case_id for r in rows]), selection_mode="single-row")
    c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
    c1.selectbox("Case", ids, key="case")
    c2.button("Next case", key="next", shortcut=KEYS["next"], on_click=go_next, args=(rows,))
    case_id = st.session_state["case"]
    left, right = st.columns([3, 2])
    with left:
        show_viewer(args, stamp, run, case_id, settings)
    with right:
        show_case_panel(store, run, case_id, reviewer, all_rows)


main()
