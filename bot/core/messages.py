"""Every sentence the bot says to people in chat, in one place, so the wording stays consistent."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


def echo(value: str, limit: int = 40) -> str:
    """User input safe to quote back: no control or direction characters, short, one line."""
    value = _CONTROL.sub("", value).strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"


def unknown_command(name: str, suggestions: Sequence[str]) -> str:
    hint = f" Did you mean {_or(suggestions)}?" if suggestions else ""
    return f"There is no command “{echo(name)}”.{hint} Type `help` to see them all."


def unknown_topic(name: str, suggestions: Sequence[str]) -> str:
    hint = f" Closest: {', '.join(suggestions)}." if suggestions else ""
    return f"There is no topic “{echo(name)}”.{hint} Type `topics` to list them."


def missing_topic(command: str) -> str:
    return f"Which topic? Write `{command} TOPIC`, e.g. `{command} hostages`; `topics` lists them."


def admin_only(action: str) -> str:
    return f"Only a channel admin can {action} for the whole channel."


def subscribed(topic: str, where: str, mode: str) -> str:
    if where == "channel":
        return f"This channel now gets alerts on {topic}."
    how = "by direct message" if mode == "dm" else "as a mention on the channel alert"
    return f"You now follow {topic}; alerts reach you {how}."


def already_subscribed(topic: str, where: str) -> str:
    who = "This channel already gets" if where == "channel" else "You already follow"
    return f"{who} {topic}: nothing changed." if where != "channel" else f"{who} alerts on {topic}."


def unsubscribed(topic: str, where: str) -> str:
    if where == "channel":
        return f"This channel no longer gets alerts on {topic}."
    return f"You no longer follow {topic}."


def not_subscribed(topic: str, where: str) -> str:
    if where == "channel":
        return f"This channel was not getting alerts on {topic}: nothing changed."
    return f"You were not following {topic}: nothing changed."


def no_subscriptions(where: str) -> str:
    if where == "channel":
        return "This channel has no topic subscriptions of its own."
    return "You follow no topics yet. Try `subscribe hostages`; `topics` lists them all."


def mode_set(mode: str, count: int) -> str:
    how = "by direct message" if mode == "dm" else "as mentions on channel alerts"
    return f"Your alerts now arrive {how} ({count} topic{'s' if count != 1 else ''})."


def bad_mode(value: str) -> str:
    return f"“{echo(value)}” is not a mode: write `mode dm` or `mode mention`."


def bad_duration(value: str, *, longest: timedelta) -> str:
    """A duration the command cannot take; ``longest`` is the limit the command checks against,
    so the sentence always names the limit in force."""
    return (
        f"“{echo(value)}” is not a duration: write e.g. `90s`, `30m`, `2h` or `1d` "
        f"(at most {_duration(longest)})."
    )


def _duration(length: timedelta) -> str:
    """``7d``, ``36h``, ``90m``, ``45s``: in the largest unit that writes it whole, in the
    grammar the commands read."""
    seconds = max(0, round(length.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def muted(where: str, until: str, urgent: float) -> str:
    who = "This channel is" if where == "channel" else "You are"
    return f"{who} muted until {until}. Stories scoring {urgent:.2f} or more still come through."


def unmuted(where: str, was: bool) -> str:
    who = "This channel" if where == "channel" else "You"
    if not was:
        return f"{who} {'was' if where == 'channel' else 'were'} not muted: nothing changed."
    return f"{who} will get alerts again."


def missing_story() -> str:
    return "Which story? Write `why STORY` with the id shown on the alert, e.g. `why 3f2a9c1d`."


def unknown_story(value: str) -> str:
    return f"No story “{echo(value)}” in the store: check the id on the alert (4+ characters)."


def _or(items: Sequence[str]) -> str:
    items = [f"`{i}`" for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


# --- when a command cannot be answered (``Commands.handle`` says these, and nothing else) -----


def working() -> str:
    """The acknowledgement of a command whose answer follows in a moment."""
    return "Working on it…"


def store_unavailable() -> str:
    """A command met a database outage: nothing the person typed is wrong."""
    return "The bot cannot reach its database just now: try again in a minute."


def command_failed() -> str:
    """A command failed on the bot's side (a bug): the operators have the traceback."""
    return (
        "Sorry, that command failed on the bot's side; the operators have the details in its "
        "log. Try again, or tell them if it keeps happening."
    )


def command_not_answered(command: str, who: str, error: object) -> str:
    """Log line: a command met a database outage; the person was asked to try again."""
    return f"/talks {echo(command, 80)} for {who} not answered: {error}; asked to try again"


def command_crashed(command: str, who: str) -> str:
    """Log line: a command failed unexpectedly (the traceback follows); the person got an
    apology."""
    return f"/talks {echo(command, 80)} failed for {who}; they got an apology"


# --- alerts and digests ---------------------------------------------------------------------

OUTLETS_NAMED = 2
"""Outlets an alert names before it counts the rest ("Reuters, BBC +3")."""


def outlets_line(outlets: Sequence[str]) -> str:
    """Who reported a story, at a glance: ``Reuters, BBC +3``. The first ``OUTLETS_NAMED``
    outlets by name and the rest as a count, but never "+1": the one left over is named, since
    its name tells an editor more than a count and costs about as much room. Each platform's
    renderer escapes the line for its own markup."""
    if len(outlets) <= OUTLETS_NAMED + 1:
        return ", ".join(outlets)
    return f"{', '.join(outlets[:OUTLETS_NAMED])} +{len(outlets) - OUTLETS_NAMED}"


def digest_title(count: int, *, background: bool = False) -> str:
    """The heading of a digest: flood control's folded alerts, or a route's held background."""
    if background:
        return f"Background and analysis ({count})"
    return f"{count} more developments"


BACKGROUND_MARK = "background"
"""The tier label a background alert carries when it is pushed (a route without a digest)."""


def follows_line(title: str) -> str:
    """The line under an alert that probably continues an earlier development."""
    return f"follows: {title}"


def probably_follows(title: str, story_id: str) -> str:
    """In ``why``: the earlier development a story was close to, but not merged with."""
    return (
        f"Probably follows “{title}” ({story_id}): close, but not sure enough to merge, "
        "so it was alerted on its own."
    )


# --- threads: replies under a development's alert, and its re-broadcasts ----------------------


def thread_reheadlined(outlet: str) -> str:
    """The label of a reply line showing an outlet's new headline for a report."""
    return f"{outlet} changed its headline"


def thread_corrected(outlet: str) -> str:
    """The label of a re-headline the outlet calls a correction or clarification."""
    return f"Correction from {outlet}"


def thread_more(count: int) -> str:
    """The last line of a reply too long for one message."""
    return f"…and {count} more {'report' if count == 1 else 'reports'}"


def escalated_urgent(score: float) -> str:
    """Above a re-broadcast alert: the story's score crossed ``urgent_score``."""
    return f"Escalated: now urgent (score {score:.2f})"


def escalated_corroborated(independent: int) -> str:
    """Above a re-broadcast alert: a single-source story is confirmed by other outlets."""
    return f"Escalated: now confirmed by {independent} independent outlets"


def thread_link(url: str) -> str:
    """Discord: the line of a re-broadcast pointing readers at the development's thread."""
    return f"Follow the thread: {url}"


def discord_no_threads(channel: str) -> str:
    """A Discord route's channel is neither a text channel nor a forum (a voice channel...)."""
    return (
        f"Discord channel {channel} cannot hold threads: set threads = false on its route, "
        "or route to a text or forum channel"
    )


def discord_thread_refused(channel: str, reason: str) -> str:
    """Discord refused to start a development's thread on its alert."""
    return (
        f"The bot may not start threads in Discord channel {channel} ({reason}): allow it "
        "Create Public Threads and Send Messages in Threads there, or set threads = false"
    )


def discord_bad_root(message_id: str) -> str:
    """A stored alert id that cannot be a Discord message (a corrupt delivery)."""
    return (
        f"Discord message id {message_id!r} is not a number: the stored delivery is corrupt, "
        "no thread to reply in"
    )


def thread_reply_failed(where: str, error: object) -> str:
    """Log line: a thread reply was refused for good; the root alert is still edited."""
    return f"thread reply in {where} refused, no more replies for this alert: {error}"


def thread_reply_found(story_id: str, where: str) -> str:
    """Log line: a reply posted before a restart was found in its thread and recorded."""
    return f"thread reply for {story_id} was already in {where} (posted before a restart)"


# --- operators ------------------------------------------------------------------------------


def another_writer(database: str, pid: int | None, *, session: int | None = None) -> str:
    """A second writing process refused: who holds the database, and what to do."""
    if pid is not None:
        who = f"another talks-bot (pid {pid})"
    elif session is not None:
        who = f"another talks-bot (PostgreSQL session {session})"
    else:
        who = "another talks-bot"
    return (
        f"{who} is already polling and posting from {database}: stop it first "
        "(two would post the same alerts twice), or give this one its own database "
        "with TALKS_BOT_DATABASE_URL"
    )


def writer_lock_failed(where: str, reason: str, *, server: bool = False) -> str:
    """The writer lock could not be asked for: a lock file (SQLite) or the server (PostgreSQL)."""
    fix = (
        "check the database server is up and reachable"
        if server
        else ("check the folder is writable")
    )
    return f"cannot take the writer lock on {where} ({reason}): {fix}"


# --- operator log lines ---------------------------------------------------------------------

_STUCK_ON = {
    "database": (
        "waiting for the database",
        "check the database server and the network to it (store.timeout bounds each step)",
    ),
    "feed": (
        "fetching the feed",
        "the feed server is slow or silent (fetch.deadline bounds the fetch)",
    ),
    "articles": (
        "fetching article pages",
        "an article server is slow or silent (fetch.deadline bounds each page)",
    ),
    "outbox": (
        "waiting for the delivery round in progress",
        "check the chat platform: a slow send holds the outbox",
    ),
}


def seconds_text(seconds: float) -> str:
    """A duration for a log line: ``45s``, ``3m20s``, ``2h05m``."""
    whole = max(0, round(seconds))
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def poll_stuck(source: str, running: float, interval: float, doing: str) -> str:
    """One line when a poll is still running at its next due time (said once per such poll)."""
    what, advice = _STUCK_ON.get(doing, ("running", "see the log lines above for this source"))
    return (
        f"poll of {source} stuck: running for {seconds_text(running)}, past its next due time "
        f"({seconds_text(interval)} interval), {what}; its next polls wait until it ends — "
        f"{advice}"
    )


def poll_once_summary(
    *,
    sources: int,
    healthy: int,
    failing: int,
    backing_off: int,
    next_try: str | None,
    new_reports: int,
    sent: int,
    updated: int,
    folded: int,
    digests: int,
    retrying: int,
    failed: int,
) -> str:
    """The last line of ``poll-once``: how every source fared, then what was delivered.
    ``failing``: polled now and failed; ``backing_off``: not polled, still waiting out the
    backoff of earlier failures (``next_try``: the earliest of them, ``clock_time``)."""
    line = f"{sources} source{'s' if sources != 1 else ''}: {healthy} healthy, {failing} failing"
    if backing_off:
        line += f", {backing_off} backing off after failing"
        if next_try:
            line += f" (not polled; next try {next_try})"
    line += (
        f"; {new_reports} new reports, {sent} alerts sent, {updated} updated, "
        f"{folded} folded into {digests} digests"
    )
    if retrying:
        line += f", {retrying} to retry"
    if failed:
        line += f", {failed} failed"
    return line


def poll_once_backing_off(source: str, until: str, failures: int, error: str | None) -> str:
    """``poll-once``: a source not polled because it is waiting out its backoff."""
    last = f" (last error: {error})" if error else ""
    return f"source {source}: backing off until {until} after {failures} failure(s){last}"


def poll_once_failed_exit(flag: str) -> str:
    """``poll-once``: why it exits 1 although it ran to the end."""
    return f"exit status 1: sources are failing or backing off ({flag} exits 0 for this)"


def poll_round(
    *,
    seconds: float,
    first: bool,
    polls: int,
    sources: int,
    failing: Sequence[str],
    backing_off: Sequence[str],
    new_reports: int,
    alerts: int,
    updates: int,
    sent: int,
    slowest: float,
    slowest_source: str,
) -> str:
    """``run``'s periodic INFO line: the polls that ended since the last such line."""
    when = "first round" if first else f"last {seconds_text(seconds)}"
    line = f"{when}: {polls} poll{'s' if polls != 1 else ''} of {sources} source"
    line += "s" if sources != 1 else ""
    line += f", {len(failing)} failing{_names(failing)}"
    if backing_off:
        line += f", {len(backing_off)} backing off{_names(backing_off)}"
    line += (
        f"; {new_reports} new reports, {alerts} alerts, {updates} updates, {sent} sent; "
        f"slowest poll {seconds_text(slowest)} ({slowest_source})"
    )
    return line


def _names(names: Sequence[str], shown: int = 3) -> str:
    """`` (a, b +2)``: which sources, briefly."""
    if not names:
        return ""
    more = f" +{len(names) - shown}" if len(names) > shown else ""
    return f" ({', '.join(names[:shown])}{more})"


def poll_unstuck(source: str, running: float) -> str:
    """The end of a stuck poll, however it ended."""
    return f"poll of {source} ended after {seconds_text(running)}; polling it again on schedule"


def writer_lost(error: object) -> str:
    """Log line: the writer lock was lost to another process while running; this bot stops."""
    return f"stopping: the writer lock was lost while the database restarted, and {error}"


def writer_unchecked(error: object) -> str:
    """Log line: the writer lock could not be checked; the bot checks again shortly."""
    return f"could not check the writer lock: {error}; checking again shortly"


def database_not_ready(error: object, seconds: float) -> str:
    """Log line: at start-up the database server ended the session; the bot tries again."""
    return f"{error}; trying again in {seconds:g}s"


def feed_quirk(source: str, warning: str) -> str:
    """Log line (once per source and kind): the feed was read, but not as written."""
    return f"source {source}: {warning} (its items were read; said once)"


def replay_not_saved(error: object) -> str:
    """Log line: a ``run --replay`` cycle could not be saved; the next cycle decides again."""
    return f"replay cycle not saved: {error}; the next cycle tries again"


def replay_crashed() -> str:
    """Log line: a ``run --replay`` cycle failed unexpectedly (the traceback follows)."""
    return "replay cycle crashed; the next cycle tries again"


# --- delivery (operators read these in the log and in ``status``) ---------------------------


def waits_for(where: str, seconds: float, waiting: int) -> str:
    """Log line: a destination asked the bot to wait; only its own alerts wait with it."""
    also = f"; {waiting} more alert(s) for it wait too" if waiting else ""
    return f"{where} asked to wait {seconds:.1f}s{also}; other destinations are not held up"


def still_delivering(where: str, seconds: float) -> str:
    """Log line: a destination's turn outlasted a round; the next rounds go on without it."""
    return (
        f"{where} is still taking its messages after {seconds:g}s; the other destinations go on, "
        "and its next alerts follow when it is done"
    )


def turn_crashed(where: str) -> str:
    """Log line: a destination's turn that went on by itself ended with an error."""
    return f"delivery to {where} crashed; its alerts stay pending and are tried again"


def briefing_waits(where: str, seconds: float, attempt: int, attempts: int) -> str:
    """Log line: a briefing was turned away by a rate limit and is sent again after a wait."""
    return (
        f"briefing to {where} was rate limited: sending it again in {seconds:g}s "
        f"(try {attempt} of {attempts})"
    )


def briefing_failed(where: str, error: object) -> str:
    """Log line: a briefing could not be sent; the next one is on schedule."""
    return f"briefing to {where} failed: {error}; the next briefing is sent on schedule"


def slack_http_crowded(limit: int) -> str:
    """Log line (once): the HTTP-mode endpoint hit its connection cap and drops the oldest."""
    return (
        f"Slack HTTP mode has {limit} connections open: the oldest are closed to make room "
        "(a flood of idle clients, or a proxy that keeps too many open); said once"
    )


def slack_http_out_of_files() -> str:
    """Log line (once): the process ran out of file descriptors while accepting connections."""
    return (
        "the process is out of open files while accepting Slack connections: raise its limit "
        "(LimitNOFILE in the systemd unit, ulimit -n); said once"
    )


def slack_roles_unreachable(user: str, reason: str) -> str:
    """Log line: Slack did not answer whether the caller is an admin; asked again next time."""
    return (
        f"Slack users.info did not answer ({reason}): user {user} counts as a non-admin for "
        "this command (configured [slack] admins still count)"
    )


def slack_rate_limited(channel: str, seconds: float) -> str:
    return f"Slack rate limit for {channel}: will retry in {seconds:g}s"


def discord_login_failed(error: object, seconds: float) -> str:
    """Log line: the Discord connection ended (refused token, Discord unreachable)."""
    return (
        f"Discord connection stopped: {error}; logging in again in {seconds:g}s (alerts for "
        "Discord stay pending; a refused token needs DISCORD_TOKEN reset and a restart)"
    )


def discord_too_slow(where: str, seconds: float) -> str:
    """A Discord send that did not finish in time (a rate-limit wait inside discord.py, or a
    slow answer): retried later; the message nonce keeps a resend from posting twice."""
    return (
        f"Discord did not take the message to {where} within {seconds:g}s (rate limit or slow "
        "answer): it is retried later"
    )


# --- status ------------------------------------------------------------------------------------
def format_age(delta: timedelta) -> str:
    """How long ago, as a desk says it: "just now", "12 min", "5h", "3d"."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 90:
        return "just now" if seconds < 60 else "1 min"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 48 * 3600:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def period_label(period: timedelta) -> str:
    """A status period as written back to the reader: "45 min", "24h", "36h", "3 days"."""
    hours = period.total_seconds() / 3600
    if hours < 1:
        return f"{math.ceil(period.total_seconds() / 60)} min"
    if hours < 48 or hours % 24:
        return f"{hours:g}h"
    return f"{hours / 24:g} days"


def status_heading(period: timedelta) -> str:
    return f"Talks status — last {period_label(period)}"


def status_top_heading(any_story: bool) -> str:
    if any_story:
        return "Top developments:"
    return "No developments on the watched topics in this period."


def status_story(title: str, outlets: int, age: str, score: float, story_id: str) -> str:
    plural = "s" if outlets != 1 else ""
    return f"{title} — {outlets} outlet{plural}, {age} ago, score {score:.2f} [{story_id}]"


def status_trend(count: int, previous: int) -> str:
    if count == previous:
        return "→ steady"
    if previous == 0:
        return "↑ new"
    change = (count - previous) / previous
    arrow = "↑" if change > 0 else "↓"
    return f"{arrow} {abs(change) * 100:.0f}%"


def status_topic(name: str, count: int, previous: int, period: timedelta) -> str:
    trend = status_trend(count, previous)
    return f"{name}: {count} ({trend} vs previous {period_label(period)}: {previous})"


def status_latest(age: str | None, title: str) -> str:
    if age is None:
        return "Latest development: none recorded yet."
    return f"Latest development: {age} ago — {title}"


def status_sources(healthy: int, total: int, never_polled: int) -> str:
    line = f"Sources: {healthy} of {total} healthy"
    if never_polled:
        line += f", {never_polled} not polled yet"
    return line


def clock_time(when: datetime, now: datetime, tz: tzinfo = UTC) -> str:
    """A time of day as the bot writes it (as ``mute`` does): "22:41 UTC", with the date when it
    is not on ``now``'s day: "09:05 UTC 06 May". ``tz``: the zone to show it in."""
    local = when.astimezone(tz)
    text = local.strftime("%H:%M %Z")
    if local.date() != now.astimezone(tz).date():
        text += local.strftime(" %d %b")
    return text


def status_failing_source(
    name: str, since: str, failures: int, error: str, retry: str | None = None
) -> str:
    """A failing source in ``status``. ``retry``: when it is polled again (``clock_time``);
    ``""`` when that is due now, None when not known."""
    line = f"{name} failing for {since} ({failures}×): {error}"
    if retry:
        line += f"; backing off until {retry}"
    elif retry == "":
        line += "; retried at its next poll"
    return line


def status_undelivered(count: int) -> str:
    return f"Delivery problems: {count} alert(s) could not be delivered"


def status_following(topics: Sequence[str]) -> str:
    return f"You follow: {', '.join(topics) or 'nothing yet (try `subscribe hostages`)'}"


def briefing_title(period: timedelta) -> str:
    return f"Briefing: the talks in the last {int(period.total_seconds() // 3600)}h"


# --- polling (operators' log) -----------------------------------------------------------------
def poll_not_saved(source: str, error: object) -> str:
    return f"poll of {source} not saved: {error}"


def poll_crashed(source: str) -> str:
    return f"poll of {source} crashed; the other sources go on"


def source_failed(source: str, failures: int, error: str) -> str:
    return f"source {source} failed ({failures} in a row): {error}"


def document_unreadable(source: str, problem: str) -> str:
    return f"source {source}: {problem}"


def no_full_text(url: str, error: object) -> str:
    return f"no full text for {url}: {error}"


def guids_shared(source: str, count: int, example: str) -> str:
    return (
        f"source {source}: {count} guid(s) given to several items (e.g. {example!r}); told apart "
        "by their links, nothing dropped"
    )


def item_skipped(source: str, kind: str, error: str) -> str:
    return f"source {source}: skipped one item ({kind}: {error}); the others are read"


def stories_not_loaded(error: object) -> str:
    return f"recent stories not loaded yet, trying again before the first poll: {error}"


def running(sources: int, topics: int, routes: int) -> str:
    return f"talks-bot running: {sources} sources, {topics} topics, {routes} routes; Ctrl-C to stop"


def poll_found(source: str, reports: int, alerts: int, updates: int) -> str:
    return f"{source}: {reports} new reports, {alerts} alerts, {updates} updates"


def outbox_unreachable(error: object) -> str:
    return f"outbox not reachable, retrying: {error}"


def delivery_round_crashed() -> str:
    return "delivery round crashed; retrying"
