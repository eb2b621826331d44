"""Where a member's message goes on each channel.

SMS goes to the member's phone, email to their email (none: the message is "no address"). A WeChat
template message goes to the member's openid on the chain's official account, which the member model
does not have: it belongs to the WeChat integration (a mini-program or official-account connector that
learns it when the member follows or logs in). That integration registers, from its AppConfig.ready(),

    register_wechat_openid_resolver(lambda member_ids: {member_id: openid, …})

answering the openids it knows for a batch of member ids (one query per batch, please: bulk queues
call it for thousands at once). Until one is registered every WeChat message is "no address".
"""

from collections.abc import Callable, Mapping, Sequence

from campaigns.messaging.variables import MemberRow
from campaigns.models import MessageChannel
from members.models import Member

OpenIdResolver = Callable[[Sequence[int]], Mapping[int, str]]

_wechat_resolvers: list[OpenIdResolver] = []


def register_wechat_openid_resolver(resolver: OpenIdResolver | None) -> None:
    """Set (or with None, remove) the function that knows members' WeChat openids."""
    _wechat_resolvers[:] = [resolver] if resolver is not None else []


def addresses_for(channel: str, members: Sequence["Member | MemberRow"]) -> dict[int, str]:
    """{member.pk: address} for the members who have one on `channel`."""
    if channel == MessageChannel.SMS:
        return {m.pk: m.phone for m in members if m.phone}
    if channel == MessageChannel.EMAIL:
        return {m.pk: m.email for m in members if m.email}
    if channel == MessageChannel.WECHAT:
        if not _wechat_resolvers or not members:
            return {}
        found = _wechat_resolvers[0]([m.pk for m in members]) or {}
        return {pk: str(openid)[:254] for pk, openid in found.items() if openid}
    raise ValueError(f"unknown channel {channel!r}")
