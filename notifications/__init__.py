"""Notifications: alerts, rules, on-call rota, escalation, delivery outbox and channels.

Empty until the alerts issue.
"""
