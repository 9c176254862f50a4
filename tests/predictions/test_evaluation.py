from __future__ import annotations

from pathlib import Path

import pytest

from mailwright.predictions.evaluation import EvaluationRow, evaluate_online_retail


@pytest.fixture(scope="module")
def retail_rows(retail_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, EvaluationRow]:
    rows, charts, _ = evaluate_online_retail(retail_path, chart_dir=tmp_path_factory.mktemp("charts"))
    assert all(chart.stat().st_size > 0 for chart in charts)
    return {row.metric.split(" (")[0]: row for row in rows}


@pytest.mark.slow
def test_online_retail_protocol_meets_the_baselines(retail_rows: dict[str, EvaluationRow]) -> None:
    assert retail_rows["BG/NBD degenerate fit detected"].met
    auc = retail_rows["churn ROC AUC"]
    assert auc.value > auc.baselines["recency only"] + 0.03
    assert auc.value >= auc.baselines["logistic log-RFM"] - 0.005
    assert auc.value >= 0.74
    for metric in ("revenue Spearman", "revenue top-decile share"):
        row = retail_rows[metric]
        assert row.value > row.baselines["last 90 days"], metric
        assert row.value >= row.baselines["BG/NBD x GG"] - 0.01, metric
    hr = retail_rows["recs all items HR@10"]
    assert hr.value >= hr.baselines["ALS 64"] and hr.value >= hr.baselines["P-TopFreq"] - 0.005
    new = retail_rows["recs new items HR@10"]
    assert new.value >= new.baselines["ALS 64"] - 0.005 and new.value > new.baselines["popularity 90d"]
