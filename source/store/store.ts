import {createStore, type StoreApi} from 'zustand/vanilla';
import type {Capabilities} from '../db/capabilities.js';
import type {ConnectionState} from '../db/monitor.js';
import type {ScreenId} from '../keymap.js';
import type {FleetState} from '../fleet/fleet.js';
import type {ScreenData, ScreenUi} from './view-state.js';

export type DataSlot<T = unknown> = {
	value?: T;
	/** when value was read from the server */
	at?: number;
	/** the last poll's error, while value (if any) is from an earlier poll */
	error?: string;
};

export type Thresholds = {
	/** active longer than this is hanging: the 30 s statement_timeout target */
	hangingActiveMs: number;
	/** idle in transaction longer than this is hanging */
	hangingIdleTxMs: number;
	/** statements with a mean above this are highlighted */
	slowMeanMs: number;
	/** app pool size (pool_size + max_overflow) */
	appPool: number;
	/** the utilisation target */
	connectionTarget: number;
	cacheTarget: number;
};

export const defaultThresholds: Thresholds = {
	hangingActiveMs: 30_000,
	hangingIdleTxMs: 60_000,
	slowMeanMs: 100,
	appPool: 30,
	connectionTarget: 0.8,
	cacheTarget: 0.95,
};

export type Dialog = {
	title: string;
	lines: string[];
	confirmLabel: string;
	/** when set, the user must type exactly this (e.g. a count, or yes) instead of pressing y */
	typed?: string;
	/** a promise is awaited: the dialog shows sending… until it settles, then done or the error, unless the action said more */
	onConfirm: () => unknown;
	onCancel?: () => void;
	/** further answers besides confirm and cancel, each a dialog-scope command of the keymap */
	choices?: Array<{command: string; key: string; label: string; run: () => void}>;
};

/** A status line belongs to the screen it was said on: it does not follow the operator to other screens. */
export type Message = {text: string; kind: 'info' | 'ok' | 'error'; at: number; screen?: ScreenId};

export type AppState = {
	/** redacted, user:***@host:port/db */
	target: string;
	readOnly: boolean;
	/** demo only: how another terminal reaches the demo database */
	demoDsn?: string;
	connection: ConnectionState;
	caps?: Capabilities;
	screen: ScreenId;
	overlay?: 'help';
	dialog?: Dialog;
	paused: boolean;
	intervalMs: number;
	/** start-to-start time between the visible screen's last polls, when known: slower than intervalMs when polls take longer */
	achievedIntervalMs?: number;
	data: {[K in ScreenId]?: DataSlot<ScreenData[K]>};
	/** per-screen view state (selection, filter, sort) kept across screen switches and reconnects */
	ui: {[K in ScreenId]?: ScreenUi[K]};
	/** text fields mounted (filter, typed confirmation): while any is, the keyboard is theirs */
	textCapture: number;
	message?: Message;
	/** how long a message stays: a result is said once, then the Activity log and the job strip keep it */
	messageTtlMs: number;
	thresholds: Thresholds;
	size: {columns: number; rows: number};
	/** every target's state and the firing alerts, from the background sampler */
	fleet?: FleetState;
};

export type AppStore = StoreApi<AppState>;

export const minIntervalMs = 250;
export const maxIntervalMs = 60_000;

export function createAppStore(initial: Partial<AppState> & Pick<AppState, 'target'>): AppStore {
	return createStore<AppState>()(() => ({
		readOnly: false,
		connection: {status: 'connecting', attempt: 0},
		screen: 'overview',
		paused: false,
		intervalMs: 2000,
		data: {},
		ui: {},
		textCapture: 0,
		messageTtlMs: messageTtlMs,
		thresholds: defaultThresholds,
		size: {columns: 80, rows: 24},
		...initial,
	}));
}

/** The default of AppState.messageTtlMs. */
export const messageTtlMs = 20_000;

/** `screen`: the one a job's result belongs to, when the operator may have moved on by the time it ends. */
export function setMessage(store: AppStore, text: string, kind: Message['kind'] = 'info', screen: ScreenId = store.getState().screen) {
	const message: Message = {text, kind, at: Date.now(), screen};
	store.setState({message});
	// Gone after a while unless something newer replaced it: a finished result must not stand next to the next one.
	const timer = setTimeout(() => {
		if (store.getState().message === message) store.setState({message: undefined});
	}, store.getState().messageTtlMs);
	timer.unref?.();
}

/**
 * Stores a screen's data read from `readAt` (when the read began). A slot whose read began later is
 * kept: a job's own re-read at its end (the Migration screen after a run, the checklist's re-check)
 * is not overwritten by a poll begun before it and finishing after it.
 */
export function putSlot<K extends ScreenId>(store: AppStore, screen: K, value: ScreenData[K], readAt: number, patch: Partial<AppState> = {}) {
	store.setState(st => ({
		...patch,
		data: (st.data[screen]?.at ?? 0) > readAt ? st.data : {...st.data, [screen]: {value, at: readAt}},
	}));
}

export function setUi<K extends ScreenId>(store: AppStore, screen: K, patch: Partial<ScreenUi[K]>) {
	const ui = store.getState().ui;
	store.setState({ui: {...ui, [screen]: {...ui[screen], ...patch}}});
}

/**
 * Resolves once the visible screen's first poll has answered (with data or an error), the connection is
 * not live, or after waitMs: the console's first frame then shows data instead of being drawn twice.
 */
export function firstData(store: AppStore, waitMs: number): Promise<void> {
	const answered = (s: AppState) => s.data[s.screen] !== undefined || s.connection.status !== 'live' || s.caps === undefined;
	if (answered(store.getState())) return Promise.resolve();
	return new Promise(resolve => {
		const done = () => {
			clearTimeout(timer);
			unsubscribe();
			resolve();
		};
		const timer = setTimeout(done, waitMs);
		const unsubscribe = store.subscribe(s => {
			if (answered(s)) done();
		});
	});
}
