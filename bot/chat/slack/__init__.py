"""Slack adapter: renders neutral alerts and replies as Block Kit and moves them over slack_sdk."""

from bot.chat.slack.app import build_slack_app, run_http_mode, run_socket_mode, slack_client
from bot.chat.slack.notifier import SlackNotifier

__all__ = ["SlackNotifier", "build_slack_app", "run_http_mode", "run_socket_mode", "slack_client"]
