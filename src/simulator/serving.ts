/**
 * Serving capacity, per model, as a model server behaves under load: at most `servingSlots`
 * calls are served at once (its batch slots); later calls wait in a FIFO queue, and a call's
 * service time may grow with the calls served beside it (`latencyPerInFlightMs`).
 */
import type { SimulatorSettings } from './config';

/** Counters of one model's serving pool, or of all of them (GET /_sim/stats → `serving`). */
export interface ServingCounters {
  /** Calls being served now. */
  inService: number;
  /** Calls waiting for a slot now. */
  queued: number;
  maxInService: number;
  maxQueued: number;
  /** Calls that got a slot since start or the last reset (at once or after waiting). */
  served: number;
  /** Of those, calls that had to wait for it. */
  waited: number;
  /** Sum and maximum of the time calls spent queued (ms), those served at once included as 0. */
  queueMsTotal: number;
  queueMsMax: number;
}

export interface ServingSnapshot extends ServingCounters {
  /** The setting in force (0: the capacity model is off). */
  slots: number;
  byModel: Record<string, ServingCounters>;
}

/** Called when the call gets its slot, with the number of other calls being served beside it. */
export type OnServe = (othersInService: number, queuedMs: number) => void;

// Plain classes keep property shapes stable for V8 on the hot path.
class Lane implements ServingCounters {
  inService = 0;
  queued = 0;
  maxInService = 0;
  maxQueued = 0;
  served = 0;
  waited = 0;
  queueMsTotal = 0;
  queueMsMax = 0;
  /** FIFO with lazy removal: a ticket that left while queued is skipped when its turn comes. */
  queue: Ticket[] = [];
  head = 0;
}

/** One call's place in a pool; `leave` it exactly once, whether it was served or gave up. */
export class Ticket {
  state: 'queued' | 'serving' | 'done' = 'queued';
  constructor(
    readonly lane: Lane,
    readonly enqueuedAt: number,
    readonly onServe: OnServe,
  ) {}
}

function counters(l: ServingCounters): ServingCounters {
  return {
    inService: l.inService,
    queued: l.queued,
    maxInService: l.maxInService,
    maxQueued: l.maxQueued,
    served: l.served,
    waited: l.waited,
    queueMsTotal: l.queueMsTotal,
    queueMsMax: l.queueMsMax,
  };
}

export class ServingPool {
  private readonly lanes = new Map<string, Lane>();

  constructor(
    private readonly settings: Pick<SimulatorSettings, 'servingSlots'>,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Queues a call for a slot of its model's pool. `onServe` runs when it gets one: at once
   * (synchronously) when a slot is free or the model is off, later otherwise, in arrival order.
   */
  enter(model: string, onServe: OnServe): Ticket {
    let lane = this.lanes.get(model);
    if (!lane) {
      lane = new Lane();
      this.lanes.set(model, lane);
    }
    const ticket = new Ticket(lane, this.now(), onServe);
    if (lane.queued === 0 && this.hasRoom(lane)) this.serve(ticket, 0, false);
    else {
      lane.queue.push(ticket);
      if (++lane.queued > lane.maxQueued) lane.maxQueued = lane.queued;
    }
    return ticket;
  }

  /** The call was answered or its client went away: frees its slot or its place in the queue. */
  leave(ticket: Ticket): void {
    const lane = ticket.lane;
    if (ticket.state === 'done') return;
    if (ticket.state === 'queued') lane.queued--;
    else lane.inService--;
    ticket.state = 'done';
    this.pump(lane);
  }

  /** Serves queued calls while slots are free (also after `servingSlots` was raised or turned off). */
  pumpAll(): void {
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /** Zeroes the counters; calls being served or queued stay where they are. */
  resetCounters(): void {
    for (const lane of this.lanes.values()) {
      lane.maxInService = lane.inService;
      lane.maxQueued = lane.queued;
      lane.served = 0;
      lane.waited = 0;
      lane.queueMsTotal = 0;
      lane.queueMsMax = 0;
    }
  }

  snapshot(): ServingSnapshot {
    const total: ServingCounters = {
      inService: 0,
      queued: 0,
      maxInService: 0,
      maxQueued: 0,
      served: 0,
      waited: 0,
      queueMsTotal: 0,
      queueMsMax: 0,
    };
    for (const lane of this.lanes.values()) {
      total.inService += lane.inService;
      total.queued += lane.queued;
      // Pools are per model; the sum of their peaks bounds the peak of the sum.
      total.maxInService += lane.maxInService;
      total.maxQueued += lane.maxQueued;
      total.served += lane.served;
      total.waited += lane.waited;
      total.queueMsTotal += lane.queueMsTotal;
      total.queueMsMax = Math.max(total.queueMsMax, lane.queueMsMax);
    }
    // Object.fromEntries defines own keys: a model named `__proto__` is listed, not swallowed.
    const byModel = Object.fromEntries([...this.lanes].map(([model, lane]) => [model, counters(lane)]));
    return { slots: this.settings.servingSlots, ...total, byModel };
  }

  private hasRoom(lane: Lane): boolean {
    const slots = this.settings.servingSlots;
    return slots === 0 || lane.inService < slots;
  }

  private pump(lane: Lane): void {
    while (lane.queued > 0 && this.hasRoom(lane)) {
      const next = lane.queue[lane.head++];
      if (next.state !== 'queued') continue;
      lane.queued--;
      this.serve(next, this.now() - next.enqueuedAt, true);
    }
    // Drop the consumed prefix now and then, so a long run's queue array does not only grow.
    if (lane.head > 1024 && lane.head * 2 > lane.queue.length) {
      lane.queue = lane.queue.slice(lane.head);
      lane.head = 0;
    } else if (lane.queued === 0 && lane.head > 0) {
      lane.queue.length = 0;
      lane.head = 0;
    }
  }

  private serve(ticket: Ticket, queuedMs: number, waited: boolean): void {
    const lane = ticket.lane;
    ticket.state = 'serving';
    const others = lane.inService;
    if (++lane.inService > lane.maxInService) lane.maxInService = lane.inService;
    lane.served++;
    if (waited) lane.waited++;
    lane.queueMsTotal += queuedMs;
    if (queuedMs > lane.queueMsMax) lane.queueMsMax = queuedMs;
    ticket.onServe(others, queuedMs);
  }
}
