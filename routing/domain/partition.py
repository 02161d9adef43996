"""What routing knows about one partition: its demands, the requests decided for demands that
were never submitted, and the routing context (rules, calendar, time) folded from the facts.
Pure: the worker feeds it from the log, the tests and the what-if replay feed it directly."""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass, field

from routing.domain import merge
from routing.domain.decide import decide
from routing.domain.timekeeping import decide_fact, on_fact
from services.domain.context import RoutingContext, is_routing_fact
from services.domain.demand import Demand, apply, is_unknown_demand
from services.events.envelope import Event


@dataclass
class PartitionState:
    # A dict, or the worker's table read lazily from a snapshot (routing/domain/snapshot.py).
    demands: MutableMapping[str, Demand] = field(default_factory=dict)
    orphans_decided: set[str] = field(default_factory=set)
    context: RoutingContext = field(default_factory=RoutingContext)
    # The open demands' ids, in a deterministic order: a tick looks at these only.
    open: dict[str, None] = field(default_factory=dict)
    # The open demands with a merge pending, in the same order: what a refold sends again.
    merging: dict[str, None] = field(default_factory=dict)

    def fold(self, event: Event) -> Demand | None:
        if is_unknown_demand(event) and event.causation_id:
            self.orphans_decided.add(event.causation_id)
        state = apply(self.demands.get(event.demand_id), event)
        if state is not None:
            self.demands[event.demand_id] = state
            if state.is_open:
                self.open[state.demand_id] = None
            else:
                self.open.pop(state.demand_id, None)
            if state.is_open and state.merging is not None:
                self.merging[state.demand_id] = None
            else:
                self.merging.pop(state.demand_id, None)
        return state

    def is_decided(self, request: Event) -> bool:
        if request.event_id in self.orphans_decided:
            return True
        state = self.demands.get(request.demand_id)
        return state is not None and request.event_id in state.decided

    def decide(self, state: Demand | None, trigger: Event) -> list[Event]:
        """Decide a request against `state`, or a routing fact against every demand, and fold
        the decisions in at once, so what comes next sees them."""
        if trigger.is_fact:
            decisions = on_fact(self.context, [self.demands[i] for i in self.open], trigger)
        else:
            decisions = decide(state, trigger, self.context)
        for decision in decisions:
            self.fold(decision)
        return decisions

    def finish(self, fact: Event) -> list[Event]:
        """The decisions a fact the context has already taken in calls for on the open
        demands it has not decided on. A worker killed while appending a fact's decisions can
        leave a part of them in the log; deciding is deterministic, so this makes exactly
        the rest. Folded in at once, as `decide` does."""
        demands = [self.demands[i] for i in self.open
                   if fact.event_id not in self.demands[i].decided]
        decisions = decide_fact(self.context, demands, fact)
        for decision in decisions:
            self.fold(decision)
        return decisions

    def handle(self, event: Event) -> list[Event]:
        """Live path: fold an event; if it is a request without a decision, or a routing
        fact, decide it."""
        if event.is_fact:
            if is_routing_fact(event):
                return self.decide(None, event)
            self.context.remember(event)
            return []
        state = self.fold(event)
        if event.is_decision:
            return []
        if self.is_decided(event):  # a request stored twice
            if event.type == "MergeOffered":  # its answer may be what was lost
                return merge.answer_again(state, event)
            return []
        return self.decide(state, event)

    def resend_merges(self) -> list[Event]:
        """The offers of merges still pending here, sent again after a refold: a crash between
        two partitions' appends may have lost one (routing/domain/merge.py)."""
        return merge.resend_offers([self.demands[i] for i in self.merging])
