"""The registry of trained theme models (the model files live in the instance folder)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engage.extensions import db
from engage.util import utcnow


class ModelVersion(db.Model):
    """One trained model: where its file is, what it was trained on, how good it is."""

    __tablename__ = "model_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(60), unique=True)
    design: Mapped[str] = mapped_column(String(60))
    file_name: Mapped[str] = mapped_column(String(200))
    trained_at: Mapped[datetime] = mapped_column(default=utcnow)
    n_train: Mapped[int]
    n_staff_labels: Mapped[int] = mapped_column(default=0)
    training_sha256: Mapped[str] = mapped_column(String(64))
    # Cross-validated metrics on the training data, per theme and overall.
    cv_metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    # Metrics on the held-out set (never trained on): what decides activation.
    holdout_metrics: Mapped[dict | None] = mapped_column(JSON)
    thresholds: Mapped[dict] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=False, index=True)
    activated_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def holdout_macro_f1(self) -> float | None:
        return (self.holdout_metrics or {}).get("macro_f1")

    def __repr__(self) -> str:
        return f"<ModelVersion {self.version}{' active' if self.active else ''}>"
