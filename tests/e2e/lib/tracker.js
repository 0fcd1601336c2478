// A client-side stream tracker, in plain JS: the rules of core's StreamTracker (what the browser
// runs through switchyard-wasm), written again here so the end-to-end tests do not depend on the
// wasm build. For each stream it keeps the last position seen:
// - an unknown stream: "new", its position becomes the event's;
// - the same epoch and the next offset: "new";
// - the same epoch and an offset already passed: "duplicate", nothing changes;
// - the same epoch and an offset further on, or another epoch: "gap", the position moves on.
//
// It also records, for the tests' assertions, every event it accepted and every duplicate and gap.

export class Tracker {
  constructor() {
    /** stream -> { epoch, offset } */
    this.positions = new Map();
    /** stream -> [{ event, payload, meta, index }] of every "new" or "gap" event, in order */
    this.accepted = new Map();
    /** [{ event, meta, index }] dropped as duplicates */
    this.duplicates = [];
    /** [{ event, meta, after }] where `after` is the position the stream had */
    this.gaps = [];
  }

  /**
   * Judge one event by its meta (the second argument of a stream event). `index`: where the
   * event is in the socket's log, kept with the record for ordering assertions.
   */
  accept(event, payload, meta, index) {
    const last = this.positions.get(meta.stream);
    let verdict;
    if (!last) verdict = 'new';
    else if (last.epoch !== meta.epoch) verdict = 'gap';
    else if (meta.offset <= last.offset) verdict = 'duplicate';
    else verdict = meta.offset === last.offset + 1 ? 'new' : 'gap';

    if (verdict === 'duplicate') {
      this.duplicates.push({ event, meta, index });
      return verdict;
    }
    if (verdict === 'gap') this.gaps.push({ event, meta, after: last });
    this.positions.set(meta.stream, { epoch: meta.epoch, offset: meta.offset });
    if (!this.accepted.has(meta.stream)) this.accepted.set(meta.stream, []);
    this.accepted.get(meta.stream).push({ event, payload, meta, index });
    return verdict;
  }

  /**
   * Feed every stream event of a socket.io-client socket into the tracker, as it arrives. On a
   * socket from lib/server.js connect(), whose own onAny (the event log) was registered first,
   * each record gets the event's index in socket.__events.
   */
  attach(socket) {
    socket.onAny((event, payload, meta) => {
      if (meta && typeof meta === 'object' && typeof meta.stream === 'string') {
        this.accept(event, payload, meta, socket.__events ? socket.__events.length - 1 : undefined);
      }
    });
    return this;
  }

  /** The last position of `stream` ({ epoch, offset }), or undefined. */
  position(stream) {
    const p = this.positions.get(stream);
    return p && { ...p };
  }

  /** Start `stream` at `pos` (an ack's or a welcome's position), e.g. after `recovered: false`. */
  reset(stream, pos) {
    this.positions.set(stream, { epoch: pos.epoch, offset: pos.offset });
  }

  /** `{ [stream]: { epoch, offset } }` for the given streams that have a position (for auth.since). */
  since(streams) {
    const out = {};
    for (const s of streams) {
      const p = this.position(s);
      if (p) out[s] = p;
    }
    return out;
  }

  /** The events accepted in `stream`. */
  events(stream) {
    return this.accepted.get(stream) ?? [];
  }
}
