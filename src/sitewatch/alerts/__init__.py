"""Alerts: a robust baseline and CUSUM episodes with a stated false-alarm rate."""

from sitewatch.alerts.method import AlertConfig, Episode, Point, Step, detect_episodes

__all__ = ["AlertConfig", "Episode", "Point", "Step", "detect_episodes"]
