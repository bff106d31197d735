"""The in-memory layer's fan-out: a group send reaches the group's sockets, each with its own copy."""

from chat.layers import FanOutInMemoryChannelLayer


async def test_a_group_send_reaches_every_member_and_no_one_else():
    layer = FanOutInMemoryChannelLayer()
    members = [await layer.new_channel() for _ in range(3)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("conversation.a", channel)
    await layer.group_add("conversation.b", outsider)

    await layer.group_send("conversation.a", {"type": "chat.frame", "frame": "hello"})

    received = [await layer.receive(channel) for channel in members]
    assert received == [{"type": "chat.frame", "frame": "hello"}] * 3
    received[0]["frame"] = "changed by one consumer"
    assert received[1]["frame"] == "hello"  # copies, not one shared dict
    assert outsider not in layer.channels  # nothing was queued for the other group


async def test_a_message_with_nested_values_is_deep_copied_and_a_discarded_socket_gets_nothing():
    layer = FanOutInMemoryChannelLayer()
    first, second = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", first)
    await layer.group_add("g", second)
    await layer.group_discard("g", second)

    message = {"type": "chat.html", "parts": ["a"]}
    await layer.group_send("g", message)
    got = await layer.receive(first)
    got["parts"].append("b")
    assert message["parts"] == ["a"]
    assert second not in layer.channels
