import type {Config} from '../config.js';
import {detectCapabilities, type Capabilities} from '../db/capabilities.js';
import type {Queryable} from '../db/monitor.js';
import type {Target} from '../db/dsn.js';
import type {ScreenId} from '../keymap.js';
import {putSlot, type AppState, type AppStore, type DataSlot, type Thresholds} from './store.js';
import type {ScreenData} from './view-state.js';
import {errorText} from '../errors.js';

export type LoadContext = {
	db: Queryable;
	caps: Capabilities;
	thresholds: Thresholds;
	config: Config;
	/** the monitor's own backend pid, to mark (not hide) it */
	ownPid?: number;
	/** the monitor's connection settings, for a loader that must read through another database of the server */
	target?: Target;
};

export type Loader<D> = (ctx: LoadContext, previous: D | undefined) => Promise<D>;

/** Each screen's poll (the registry's screens), typed by what it stores. */
export type Loaders = {readonly [K in ScreenId]?: {readonly load?: Loader<ScreenData[K]>}};

export type Poller = {
	/** run the visible screen's load now (or right after the one in flight) */
	refreshNow(): void;
	stop(): void;
};

const maxBackoffMs = 30_000;
const capsEveryMs = 15_000;

/** a moving average over the last few periods: one slow poll does not flip the header */
function smooth(previous: number | undefined, period: number): number {
	return previous === undefined ? period : previous * 0.7 + period * 0.3;
}

/**
 * How long to wait before the next poll. An interval is from start to start, so a 250 ms interval means
 * four refreshes a second when a poll takes less; a poll whose reads took more than half the interval is
 * followed by a pause as long as they took (up to an interval), so the console never keeps its server
 * backend busy more than half the time. `busyMs` counts only the reads: drawing the frame is the console's
 * own CPU, not the server's, and on a loaded machine counting it held 250 ms to about one refresh a second.
 * `elapsedMs` is since the last poll started; failures back off exponentially.
 */
export function pollDelay(intervalMs: number, elapsedMs: number, busyMs: number, failures: number): number {
	if (failures > 0) return Math.min(maxBackoffMs, intervalMs * 2 ** failures);
	return Math.max(intervalMs - elapsedMs, Math.min(busyMs, intervalMs));
}

/**
 * k9s-style refresh loop: only the visible screen is polled, the next poll
 * is scheduled only after the last one finished (never two at once), and
 * failures back off exponentially instead of hammering a struggling server.
 */
export function startPoller(store: AppStore, db: Queryable & {readonly target?: Target}, loaders: Loaders, config: Config): Poller {
	let timer: NodeJS.Timeout | undefined;
	let inFlight = false;
	let again = false;
	let failures = 0;
	let stopped = false;
	/** when the last poll started, and on which screen: the next starts one interval after it */
	let lastStart = 0;
	let lastScreen: ScreenId | undefined;
	/** how long the last poll waited on the server (its reads and their parsing), drawing its frame not included */
	let lastBusy = 0;

	const ready = (s: AppState) => !s.paused && s.connection.status === 'live' && s.caps !== undefined;

	/** `busy`: what the last poll kept the server busy; a tick that polled nothing (paused, not connected) waits an interval */
	function schedule(busy = lastBusy) {
		if (stopped) return;
		clearTimeout(timer);
		const s = store.getState();
		timer = setTimeout(tick, pollDelay(s.intervalMs, Date.now() - lastStart, busy, failures));
	}

	async function tick() {
		timer = undefined;
		const s = store.getState();
		const screen = s.screen;
		// a screen without a poll of its own still gets the capabilities read when due (the header's uptime after a restart)
		if (!ready(s) || !s.caps) {
			schedule(s.intervalMs);
			return;
		}
		const started = Date.now();
		// the achieved rate is only meaningful between two polls of the same screen
		const period = lastScreen === screen && failures === 0 ? started - lastStart : undefined;
		lastStart = started;
		lastScreen = screen;
		inFlight = true;
		lastBusy = 0;
		// One store update per poll: every update redraws the whole terminal frame, the console's main CPU cost.
		try {
			const caps = await currentCaps(s.caps, started);
			const ctx = {db, caps, thresholds: s.thresholds, config, ownPid: s.connection.backendPid, target: db.target};
			await load(screen, ctx, period, started);
			failures = 0;
		} catch (error) {
			failures++;
			const message = errorText(error);
			store.setState(st => ({data: {...st.data, [screen]: {...st.data[screen], error: message}}}));
		} finally {
			inFlight = false;
		}
		if (again || store.getState().screen !== screen) {
			again = false;
			void tick();
		} else schedule();
	}

	// generic over the screen, so the loader, the previous value and the stored slot agree on one type
	async function load<K extends ScreenId>(screen: K, ctx: LoadContext, period: number | undefined, started: number) {
		const loader: Loader<ScreenData[K]> | undefined = loaders[screen]?.load;
		if (!loader) return;
		const previous: DataSlot<ScreenData[K]> | undefined = store.getState().data[screen];
		const value = await loader(ctx, previous?.value);
		lastBusy = Date.now() - started;
		const achieved = store.getState().achievedIntervalMs;
		putSlot(store, screen, value, started, {achievedIntervalMs: period === undefined ? achieved : smooth(achieved, period)});
	}

	// Privileges, extensions and alembic_version change under a running console (a GRANT, an apply). They
	// are read again with the poll every capsEveryMs, and at once on Ctrl-R or when a job has changed
	// something, so no line stays as it was at connect time; not on every poll, which would triple the
	// statements each refresh costs the server.
	let capsReadAt = Date.now();
	let capsStale = false;
	async function currentCaps(caps: Capabilities, now: number): Promise<Capabilities> {
		if (!capsStale && now - capsReadAt < capsEveryMs) return caps;
		const fresh = await detectCapabilities(db);
		capsReadAt = now;
		capsStale = false;
		if (JSON.stringify(fresh) === JSON.stringify(caps)) return caps;
		store.setState({caps: fresh});
		return fresh;
	}

	function refreshNow() {
		if (stopped) return;
		capsStale = true;
		if (inFlight) {
			again = true;
			return;
		}
		clearTimeout(timer);
		void tick();
	}

	const unsubscribe = store.subscribe((s, prev) => {
		const becameReady = ready(s) && !ready(prev);
		if (s.screen !== prev.screen || becameReady || s.intervalMs !== prev.intervalMs) {
			if (s.screen !== prev.screen || becameReady) failures = 0;
			if (s.screen !== prev.screen || s.intervalMs !== prev.intervalMs) store.setState({achievedIntervalMs: undefined});
			refreshNow();
		}
	});

	refreshNow();
	return {
		refreshNow,
		stop() {
			stopped = true;
			clearTimeout(timer);
			unsubscribe();
		},
	};
}
