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


# --- corroboration (alerts and ``why``: how many independent outlets stand behind a story) ---

_COPY_REASONS = {
    "credits": "credits {origin}",
    "same-headline": "same headline as {origin}",
    "same-path": "same URL path as {origin}",
}
"""How ``why`` words each reason code of ``bot.core.corroborate.Copy``."""


def corroboration(independent: int) -> str:
    """How well an alert is confirmed: "single source" or "confirmed by 3 outlets" ("" when the
    alert was made before outlets were counted)."""
    if independent <= 0:
        return ""
    if independent == 1:
        return "single source"
    return f"confirmed by {independent} outlets"


def sourcing_line(outlets: Sequence[str], independent: int) -> str:
    """An alert's outlets with how well they confirm it: ``Reuters, BBC +3 · confirmed by 4
    outlets``. Each platform's renderer escapes the line for its own markup."""
    return " · ".join(p for p in (outlets_line(outlets), corroboration(independent)) if p)


def why_independent(independent: Sequence[str], copies: int) -> str:
    """In ``why``: the outlets counted as independent, and how many reports were copies."""
    if len(independent) == 1:
        head = f"Single source: {independent[0]}"
    else:
        head = f"Confirmed by {len(independent)} independent outlets: {', '.join(independent)}"
    if not copies:
        return f"{head}; no report was counted as a copy."
    return f"{head}; {copies} report(s) counted as copies:"


def copied(outlets: Sequence[str], reason: str, origin: str) -> str:
    """In ``why``: outlets whose reports were counted as copies, and why, e.g. "ABC News, PBS
    NewsHour: same headline as The Associated Press"."""
    how = _COPY_REASONS.get(reason, "copy of {origin}").format(origin=origin)
    return f"{', '.join(outlets)}: {how}"


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


def cycle_health_not_saved(sources: int, error: object) -> str:
    """Log line: a cycle's batched save of the sources that brought nothing new failed; their
    next poll simply asks for the whole feed again (their items are held, so nothing is lost)."""
    noun = "source" if sources == 1 else "sources"
    return (
        f"health of {sources} {noun} with nothing new not saved: {error}; "
        "their next poll reads the whole feed again (nothing is lost)"
    )


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


# --- deployment: Slack Socket Mode outages, check-config --connect, the service manager -------
def slack_socket_down(reason: str, fix: str, retry_seconds: float, next_try: str) -> str:
    """Log line: Socket Mode could not connect; the first failure of an outage (the library's
    own retries after it are folded away)."""
    return (
        f"Slack Socket Mode not connected: {reason}; {fix}. Retrying every "
        f"{seconds_text(retry_seconds)}, next try {next_try}; /talks is unanswered meanwhile, "
        "alerts still go out through the Web API"
    )


def slack_socket_refused_fix() -> str:
    return (
        "Slack refused the app-level token: set SLACK_APP_TOKEN to the app's xapp- token "
        "(Basic Information → App-Level Tokens, scope connections:write) and restart"
    )


def slack_socket_unreachable_fix() -> str:
    return "check the network and proxy settings to Slack (status.slack.com for outages)"


def slack_socket_connected() -> str:
    return "Slack Socket Mode connected: answering /talks"


def slack_socket_back(tries: int, down_for: float) -> str:
    """Log line: Socket Mode is connected again after an outage."""
    return (
        f"Slack Socket Mode connected again after {seconds_text(down_for)} down "
        f"({tries} failed tries): answering /talks"
    )


def bad_log_format(variable: str, value: str, formats: Sequence[str]) -> str:
    return f"{variable}={value!r} is not a log format: set it to {_or(list(formats))}"


def connect_ok(what: str, detail: str, seconds: float) -> str:
    """``check-config --connect``: one thing reached."""
    return f"  connect {what}: ok, {detail} ({seconds_text(seconds)})"


def connect_failed(what: str, problem: str, fix: str) -> str:
    """``check-config --connect``: one thing not reached, and what to do."""
    return f"  connect {what}: FAILED: {problem}; {fix}"


def connect_timed_out(seconds: float) -> tuple[str, str]:
    return (
        f"no answer within {seconds_text(seconds)}",
        "check the address, the network and any firewall in between",
    )


def connect_unreachable(platform: str, error: str) -> tuple[str, str]:
    return (
        f"{platform} not reached: {error}",
        f"check the network, proxy settings and any {platform.lower()}.api_base_url",
    )


def connect_database_ok(backend: str, version: str, where: str) -> str:
    return f"{backend} {version} at {where}".replace("  ", " ")


def connect_database_memory() -> str:
    return "in-memory SQLite (nothing is kept after the bot stops)"


def connect_sqlite_new(path: str) -> str:
    return f"SQLite file {path} does not exist yet: the bot creates it at its first start"


def connect_sqlite_folder(path: str, folder: str) -> tuple[str, str]:
    return (
        f"cannot create the SQLite file {path}: {folder} is not writable",
        "choose a writable path for [bot] database_url, or give the bot's user that folder",
    )


def connect_sqlite_is_folder(path: str) -> tuple[str, str]:
    return (
        f"{path} is a folder, not a SQLite file",
        "give a file path such as data/talks.db in [bot] database_url",
    )


def connect_database_error(where: str, error: str) -> str:
    return f"cannot use the database at {where}: {error}"


_DATABASE_FIXES = {
    "url": "fix TALKS_BOT_DATABASE_URL or [bot] database_url",
    "login": "check the user name and password in TALKS_BOT_DATABASE_URL",
    "missing": "create the database (createdb --owner USER NAME) or fix its name in the URL",
    "unreachable": (
        "check the host and port in the URL, that the server runs, and that it accepts "
        "connections from this machine"
    ),
    "other": "check the database URL and the server's log",
}


def connect_database_fix(trouble: str) -> str:
    return _DATABASE_FIXES.get(trouble, _DATABASE_FIXES["other"])


def connect_slack_ok(team: str, user: str) -> str:
    return f"workspace {team}, bot user {user}"


def connect_slack_app_ok() -> str:
    return "Socket Mode accepts it"


def connect_slack_app_not_xapp() -> tuple[str, str]:
    return (
        "SLACK_APP_TOKEN is not an app-level token (xapp-…)",
        "copy it from Basic Information → App-Level Tokens (scope connections:write)",
    )


def connect_slack_refused(variable: str, code: str) -> tuple[str, str]:
    if variable == "SLACK_APP_TOKEN":
        fix = "copy the app-level token from Basic Information → App-Level Tokens"
    else:
        fix = "copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions; reinstall the app"
    return f"Slack refused {variable} ({code})", fix


def connect_discord_ok(name: str, user_id: str) -> str:
    return f"bot user {name} ({user_id})"


def connect_discord_refused(status: int) -> tuple[str, str]:
    return (
        f"Discord refused DISCORD_TOKEN (HTTP {status})",
        "reset the token in the Developer Portal (Bot → Reset Token) and set the new one",
    )


def connect_discord_status(status: int) -> tuple[str, str]:
    return (
        f"Discord answered HTTP {status}",
        "try again later; check discord.api_base_url if one is set",
    )


def connect_summary(failed: int, total: int) -> str:
    if not failed:
        return f"all {total} connections ok"
    return f"{failed} of {total} connections failed: fix them and run check-config --connect again"


def sd_notify_failed(field: str, error: object) -> str:
    """Log line: systemd's notification socket did not take a message (``bot.sdnotify``)."""
    return (
        f"could not tell systemd {field or 'our state'}: {error} (NOTIFY_SOCKET is set but not "
        "usable; check the unit's Type= and that the bot runs under that unit)"
    )


# --- metrics and health (operators: check-config, the log, /readyz, ``talks-bot healthcheck``) ---
def metrics_listen_invalid(value: str) -> str:
    return (
        f"{echo(value)!r} is not an address to listen on: write HOST:PORT, e.g. "
        "'127.0.0.1:9464' ('0.0.0.0:9464' in a container), or leave it out to keep metrics off"
    )


def metrics_listening(url: str) -> str:
    return f"metrics and health on {url} (/metrics, /healthz, /readyz)"


def metrics_cannot_listen(address: str, error: object) -> str:
    return (
        f"metrics cannot listen on {address} ({error}): choose a free port in [metrics] listen "
        "or TALKS_BOT_METRICS_LISTEN"
    )


def health_scheduler_stopped() -> str:
    return "scheduler not running: the bot is starting or stopping"


def ready_database_unreachable(error: object) -> str:
    return f"database unreachable: {error}"


def ready_database_silent(seconds: float) -> str:
    return f"database unreachable: no answer within {seconds:g}s"


def ready_no_chat(platforms: Sequence[str]) -> str:
    return f"no chat connection up ({', '.join(platforms)}): the routes need one to deliver"


def pending_not_counted(error: object) -> str:
    return f"metrics: pending deliveries not counted (the last count stays): {error}"


def healthcheck_off() -> str:
    return (
        "healthcheck: metrics are off, so there is nothing to ask: set [metrics] listen or "
        "TALKS_BOT_METRICS_LISTEN (the same for the bot and for this command)"
    )


def healthcheck_healthy(url: str) -> str:
    return f"healthy: {url} answered 200"


def healthcheck_unhealthy(url: str, reason: str) -> str:
    return f"unhealthy: {url} {reason}"


# --- the talks card, `since` and `why phase` (bot/core/talks.py, bot/core/status.py) ---------


def talks_heading() -> str:
    return "Where the talks stand"


def _side(party: str) -> str:
    return f"{party}'s" if party else "the sides'"


def talks_phase(
    kind: str,
    *,
    party: str = "",
    proposal: str = "",
    venue: str = "",
    truce_day: int = 0,
    truce_end: str = "",
    extensions: int = 0,
) -> str:
    """The phase in a desk's words; ``kind`` is a ``talks.PhaseKind`` value."""
    where = f" in {venue}" if venue else ""
    if kind == "truce":
        detail = [f"day {truce_day}"] if truce_day else []
        if extensions:
            detail.append(f"extended {extensions}×" + (f", to {truce_end}" if truce_end else ""))
        elif truce_end:
            detail.append(f"due to end {truce_end}")
        return "truce in force" + (f" ({'; '.join(detail)})" if detail else "")
    if kind == "collapsed":
        return "truce collapsed, fighting resumed"
    if kind == "agreed":
        return "deal agreed, truce not yet in force"
    if kind == "proposal pending":
        return f"awaiting {_side(party)} response to {proposal or 'the latest proposal'}"
    if kind == "responded":
        other = {"Hamas": "Israel", "Israel": "Hamas"}.get(party, "")
        answer = f"; awaiting {other}'s answer" if other else ""
        return f"{party or 'a side'} has responded to {proposal or 'the proposal'}{answer}"
    if kind == "rejected":
        what = f" {proposal}" if proposal else " the latest terms"
        return f"{party or 'a side'} rejected{what}; no deal, mediators pressing on"
    if kind == "talks":
        return f"talks under way{where}"
    if kind == "stalled":
        return f"talks stalled{where}, no deal"
    if kind == "fighting":
        return "fighting, no talks reported"
    return "no negotiation step reported"


def talks_open_question(kind: str, *, party: str = "", venue: str = "") -> str:
    """What the desk is waiting to learn in that phase."""
    if kind == "truce":
        return "whether the truce is extended again"
    if kind == "collapsed":
        return "whether mediators can restore the truce"
    if kind == "agreed":
        return "when the truce takes effect and the first releases"
    if kind == "proposal pending":
        return f"{_side(party)} written response"
    if kind == "responded":
        other = {"Hamas": "Israel", "Israel": "Hamas"}.get(party, "the other side")
        return f"{other}'s answer to {party or 'the'} response"
    if kind == "rejected":
        return "whether mediators bring a new proposal"
    if kind == "talks":
        return f"whether the round{' in ' + venue if venue else ''} produces a deal"
    if kind == "stalled":
        return "when the delegations return"
    return "whether talks resume"


def talks_phase_line(phase: str, since: str) -> str:
    return f"Phase: {phase} (since {since})" if since else f"Phase: {phase}"


def talks_venue_line(venue: str, mediators: Sequence[str]) -> str:
    where = venue or "no venue reported"
    who = ", ".join(mediators) or "none named"
    return f"Venue: {where} · mediators: {who}"


def talks_last_step_line(title: str, outlets: Sequence[str], when: str, event: str) -> str:
    return f"Last confirmed step: {when} — {title} ({event}; {outlets_line(outlets)})"


def talks_open_line(question: str) -> str:
    return f"Open question: {question}"


def talks_quiet(days: int) -> str:
    return f"No confirmed negotiation step in the last {days} days."


def talks_why_hint() -> str:
    return "`why phase` says which rules and developments put it there."


def why_phase_heading(phase: str) -> str:
    return f"Why “{phase}”"


def why_phase_transition(rule: str, when: str, title: str, event: str, evidence: str) -> str:
    """One rule of the phase machine that fired, with the development behind it."""
    return f"{when} · {rule}: “{title}” ({event}; {evidence})"


def why_phase_evidence(outlets: int, confirmed_by: str) -> str:
    """Why a step counts: its outlets, or the second development that confirmed it."""
    if outlets >= 2:
        return f"{outlets} outlets"
    return f"1 outlet, confirmed by {confirmed_by}"


def why_phase_rules_heading(count: int) -> str:
    return f"Rules that fired, oldest first ({count}):" if count else "No rule fired."


def why_phase_unconfirmed_heading(count: int) -> str:
    return f"Not counted, one outlet and nothing confirming it ({count}):"


def why_phase_outweighed_heading(count: int) -> str:
    return f"Overruled by a better-sourced opposite account from the same side ({count}):"


def why_phase_step(when: str, title: str, event: str, rule: str) -> str:
    return f"{when} · “{title}” ({event}, rule “{rule}”)"


def since_heading(since: str, count: int) -> str:
    if not count:
        return f"Nothing new on the watched topics since {since}."
    plural = "s" if count != 1 else ""
    return f"Since {since}: {count} development{plural}, newest first"


def since_line(when: str, title: str, outlets: Sequence[str], event: str) -> str:
    line = f"{when} · {title} — {outlets_line(outlets)}"
    return f"{line} · {event}" if event else line


def since_more(count: int) -> str:
    return f"…and {count} more; ask for a shorter span to see them."


def bad_since(value: str, *, longest: timedelta) -> str:
    """``since`` got something that is neither a duration nor a time of day."""
    shown = f"“{echo(value)}” is not a span: " if value else ""
    return (
        f"{shown}since needs a duration like 6h or a time like 09:00 "
        f"(at most {_duration(longest)} back)."
    )


# --- quiet and stale sources, and the ops channel (``bot.core.quiet``, ``bot.core.ops``) ------
OPS_NAMED = 4
"""Sources named in one folded ops message before "+N more"."""


def status_source_counts(
    healthy: int, total: int, never_polled: int, quiet: int, stale: int
) -> str:
    """The sources line of ``status``: quiet and stale sources are not counted healthy."""
    line = status_sources(healthy, total, never_polled)
    extra = [f"{n} {what}" for n, what in ((quiet, "quiet"), (stale, "stale")) if n]
    return line + (", " + ", ".join(extra) if extra else "")


def status_quiet_source(name: str, since: str, silent: timedelta, usual: timedelta) -> str:
    """A quiet source in ``status``; ``since``: its last new item (``clock_time``)."""
    return (
        f"{name} quieter than usual since {since}: nothing new for {format_age(silent)} "
        f"(usually every {format_age(usual)})"
    )


def status_stale_source(name: str, since: str) -> str:
    return (
        f"{name} stale since {since}: it answers as if it had news, but serves the same items; "
        "check the feed address or the site's cache"
    )


def ops_failing(name: str, failures: int, error: str) -> str:
    return f"⚠ Source {name} is failing ({failures}×): {echo(error, 200)}"


def ops_quiet(name: str, since: str, usual: timedelta | None) -> str:
    usual_text = f" (it usually posts every {format_age(usual)})" if usual else ""
    return f"⚠ Source {name} has gone quiet: nothing new since {since}{usual_text}"


def ops_stale(name: str, since: str) -> str:
    return (
        f"⚠ Source {name} is stale: the same items served as new since {since}; "
        "check the feed address or the site's cache"
    )


def ops_recovered(name: str, was: str) -> str:
    return f"✓ Source {name} has recovered (was {was})"


def ops_folded(condition: str, names: Sequence[str]) -> str:
    """Several sources that changed the same way at once, in one message."""
    shown = ", ".join(names[:OPS_NAMED])
    more = f" +{len(names) - OPS_NAMED} more" if len(names) > OPS_NAMED else ""
    if condition == "ok":
        return f"✓ {len(names)} sources have recovered: {shown}{more}"
    hint = " (many at once: check the bot's own network first)" if condition != "stale" else ""
    return f"⚠ {len(names)} sources are {condition}: {shown}{more}{hint}"


def ops_not_sent(destination: str, error: object) -> str:
    return (
        f"ops channel {destination}: could not post a source announcement ({error}); "
        "it is tried again after the next poll"
    )


def ops_no_notifier(destination: str, platform: str) -> str:
    return (
        f"ops channel {destination}: no {platform} connection; add a [{platform}] table "
        "or point [ops] channel at a platform the bot connects to"
    )


def bad_ops_channel(value: object) -> str:
    """``check-config``'s line for a bad ``[ops] channel`` (the key is put in front)."""
    return (
        f"{value!r} is not a destination: write 'slack:CHANNEL_ID', 'discord:CHANNEL_ID' "
        "(the channel's numeric id) or 'console', e.g. 'slack:C0123ABCD'"
    )


def ops_needs_platform(platform: str) -> str:
    return f"ops.channel: {platform!r} needs a [{platform}] table (as a route to it would)"
