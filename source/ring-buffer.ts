/**
 * A bounded history that lives inside a loader's value: every push returns a
 * new buffer (the previous value stays intact for whoever still renders it)
 * and the oldest items fall off past `capacity`, so a console left open for
 * days holds exactly as much as one open for minutes.
 */
export class RingBuffer<T> {
	private constructor(
		readonly capacity: number,
		// oldest first; never longer than capacity
		private readonly items: readonly T[],
	) {}

	static empty<T>(capacity: number): RingBuffer<T> {
		if (!(capacity >= 1)) throw new RangeError('a ring buffer needs room for at least one item');
		return new RingBuffer<T>(Math.floor(capacity), []);
	}

	/** Carry `previous` on (or start empty), at this capacity. */
	static from<T>(previous: RingBuffer<T> | undefined, capacity: number): RingBuffer<T> {
		if (!previous) return RingBuffer.empty(capacity);
		return new RingBuffer<T>(Math.floor(capacity), previous.items.slice(-Math.floor(capacity)));
	}

	push(item: T): RingBuffer<T> {
		const kept = this.items.length >= this.capacity ? this.items.slice(this.items.length - this.capacity + 1) : this.items;
		return new RingBuffer(this.capacity, [...kept, item]);
	}

	get size(): number {
		return this.items.length;
	}

	/** Oldest first. */
	toArray(): readonly T[] {
		return this.items;
	}

	/** The newest `n` items, oldest first. */
	latest(n: number): readonly T[] {
		return n <= 0 ? [] : this.items.slice(-n);
	}

	last(): T | undefined {
		return this.items[this.items.length - 1];
	}
}
