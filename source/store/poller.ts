import {detectCapabilities, type Capabilities} from '../db/capabilities.js';
import type {Queryable} from '../db/monitor.js';
import type {ScreenId} from '../keymap.js';
import type {AppState, AppStore, Thresholds} from './store.js';

export type LoadContext = {
	db: Queryable;
	caps: Capabilities;
	thresholds: Thresholds;
	/** the monitor's own backend pid, to mark (not hide) it */
	ownPid?: number;
};

export type Loader<D = unknown> = (ctx: LoadContext, previous: D | undefined) => Promise<D>;

export type Poller = {
	/** run the visible screen's load now (or right after the one in flight) */
	refreshNow(): void;
	stop(): void;
};

const maxBackoffMs = 30_000;

/**
 * k9s-style refresh loop: only the visible screen is polled, the next poll
 * is scheduled only after the last one finished (never two at once), and
 * failures back off exponentially instead of hammering a struggling server.
 */
export function startPoller(store: AppStore, db: Queryable, loaders: Partial<Record<ScreenId, Loader>>): Poller {
	let timer: NodeJS.Timeout | undefined;
	let inFlight = false;
	let again = false;
	let failures = 0;
	let stopped = false;

	const ready = (s: AppState) => !s.paused && s.connection.status === 'live' && s.caps !== undefined;

	function schedule() {
		if (stopped) return;
		clearTimeout(timer);
		const s = store.getState();
		const delay = failures === 0 ? s.intervalMs : Math.min(maxBackoffMs, s.intervalMs * 2 ** failures);
		timer = setTimeout(tick, delay);
	}

	async function tick() {
		timer = undefined;
		const s = store.getState();
		const loader = loaders[s.screen];
		if (!ready(s) || !loader || !s.caps) {
			schedule();
			return;
		}
		const screen = s.screen;
		inFlight = true;
		store.setState({refreshing: true});
		try {
			// Privileges, extensions and alembic_version change under a running console (a GRANT, an apply):
			// every line on every screen is from this poll, never from what was true at connect time.
			const caps = await detectCapabilities(db);
			if (JSON.stringify(caps) !== JSON.stringify(store.getState().caps)) store.setState({caps});
			const value = await loader({db, caps, thresholds: s.thresholds, ownPid: s.connection.backendPid}, s.data[screen]?.value);
			failures = 0;
			store.setState(st => ({data: {...st.data, [screen]: {value, at: Date.now()}}}));
		} catch (error) {
			failures++;
			const message = error instanceof Error ? error.message : String(error);
			store.setState(st => ({data: {...st.data, [screen]: {...st.data[screen], error: message}}}));
		} finally {
			inFlight = false;
			store.setState({refreshing: false});
		}
		if (again || store.getState().screen !== screen) {
			again = false;
			void tick();
		} else schedule();
	}

	function refreshNow() {
		if (stopped) return;
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
