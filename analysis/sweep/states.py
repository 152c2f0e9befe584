"""Channel-states: the (window, channel) cells a policy assigns intervals to.

A policy sees, per channel and window, the active users and the message rate
(and the server load, per window). Everything the simulator needs per cell is
gathered once per run here; :func:`merge_states` then collapses cells that every
policy of a sweep must treat alike, which is what keeps 10,000 policies over
thousands of channels fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ChannelStates:
    """Per (window, channel) with users: the policy's inputs and the delivery weight."""

    window: np.ndarray  # (S,) window index
    users: np.ndarray  # (S,) active users
    message_rate_per_s: np.ndarray  # (S,)
    weight: np.ndarray  # (S,) messages x receivers: (message, receiver) pairs
    window_s: np.ndarray  # (W,) window durations
    indicator: np.ndarray  # (S, W) 1 where state s is in window w
    message_state: np.ndarray  # (N,) state of each message, -1 if outside every state
    message_order: np.ndarray  # message indices sorted by state
    state_bounds: np.ndarray  # (S+1,) state s's messages: message_order[bounds[s]:bounds[s+1]]

    def messages_of(self, state: int) -> np.ndarray:
        """Indices of the messages of one channel-state."""
        return self.message_order[self.state_bounds[state] : self.state_bounds[state + 1]]


def channel_states(
    *,
    starts: np.ndarray,
    ends: np.ndarray,
    users: np.ndarray,
    message_channel: np.ndarray,
    message_created_ms: np.ndarray,
) -> ChannelStates:
    """Count each window's messages per channel; keep the (window, channel) pairs with users."""
    n_windows, n_channels = users.shape
    created = np.asarray(message_created_ms, dtype=np.float64)
    channel = np.asarray(message_channel, dtype=np.int64)
    if created.shape != channel.shape:
        raise ValueError("message_channel and message_created_ms must have the same length")
    if channel.size and (channel.min() < 0 or channel.max() >= n_channels):
        raise ValueError("message_channel out of range of channel_users")
    window = np.searchsorted(starts, created, side="right") - 1
    inside = (window >= 0) & (created < ends[np.clip(window, 0, None)])
    flat = window[inside] * n_channels + channel[inside]
    counts = np.bincount(flat, minlength=n_windows * n_channels).astype(np.float64)
    flat_users = users.reshape(-1)
    keep = np.flatnonzero(flat_users > 0)
    window_s = (ends - starts) / 1000.0
    state_window = keep // n_channels
    indicator = np.zeros((keep.size, n_windows))
    indicator[np.arange(keep.size), state_window] = 1.0
    state_of_flat = np.full(n_windows * n_channels, -1)
    state_of_flat[keep] = np.arange(keep.size)
    message_state = np.full(created.size, -1)
    message_state[inside] = state_of_flat[flat]
    return ChannelStates(
        window=state_window,
        users=flat_users[keep],
        message_rate_per_s=counts[keep] / window_s[state_window],
        weight=counts[keep] * np.maximum(flat_users[keep] - 1.0, 0.0),
        window_s=window_s,
        indicator=indicator,
        message_state=message_state,
        message_order=(order := np.argsort(message_state, kind="stable")),
        state_bounds=np.searchsorted(message_state[order], np.arange(keep.size + 1)),
    )


def merge_states(states: ChannelStates, *, rate_edges: np.ndarray) -> ChannelStates:
    """Cells of one window with equal users and rate class, merged (weights summed).

    Policies compare ``message_rate > above``; with ``rate_edges`` the sorted
    distinct ``above`` values of every policy evaluated, two cells whose rates
    exceed the same edges get the same interval from all of them. Without rate
    thresholds (no edges) hundreds of channels collapse into the few distinct room
    sizes of each window. A merged cell counts its channels in ``indicator``.
    """
    rate_class = np.searchsorted(rate_edges, states.message_rate_per_s, side="left")
    keys = np.stack([states.window, states.users, rate_class], axis=1).astype(np.float64)
    uniq, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    n = uniq.shape[0]
    window = uniq[:, 0].astype(np.int64)
    indicator = np.zeros((n, states.window_s.size))
    indicator[np.arange(n), window] = np.bincount(inverse, minlength=n)
    return ChannelStates(
        window=window,
        users=uniq[:, 1],
        message_rate_per_s=states.message_rate_per_s[first],  # any member: same class
        weight=np.bincount(inverse, states.weight, n),
        window_s=states.window_s,
        indicator=indicator,
        message_state=np.full(0, -1),
        message_order=np.zeros(0, dtype=np.int64),
        state_bounds=np.zeros(n + 1, dtype=np.int64),
    )
