import React from 'react';
import {render} from 'ink-testing-library';
import {App} from '../../source/app.js';
import {detectCapabilities} from '../../source/db/capabilities.js';
import {redactTarget, resolveTarget} from '../../source/db/dsn.js';
import {Monitor, type MonitorOptions} from '../../source/db/monitor.js';
import type {ScreenId} from '../../source/keymap.js';
import {JobRegistry} from '../../source/jobs/registry.js';
import {loaders} from '../../source/screens/registry.js';
import {startPoller, type Poller} from '../../source/store/poller.js';
import {createAppStore, type AppState, type AppStore} from '../../source/store/store.js';
import {waitFor} from './db.js';
import {defaultConfig, type Config} from '../../source/config.js';

export type RenderedApp = {
	store: AppStore;
	jobs: JobRegistry;
	monitor: Monitor;
	poller: Poller;
	lastFrame(): string;
	/** one key per write, as a user types */
	press(key: string): void;
	/**
	 * Poll the rendered frame until it matches; returns the frame. The default deadline is for the
	 * screen's answer to a key or a poll; work whose length depends on the machine (a backup, a
	 * restore test, a migration) passes one of `jobMs`. On failure: what it waited for, and the last frame.
	 */
	waitForFrame(match: RegExp | ((frame: string) => boolean), message?: string, timeout?: number): Promise<string>;
	quitCalled(): boolean;
	cleanup(): Promise<void>;
};

/** A screen answering a key or its next poll, on a busy 2-core machine. */
export const screenMs = 15_000;
/** Deadlines for jobs, sized to the work at the test database's size with the machine busy. */
export const jobMs = {backup: 60_000, restoreTest: 90_000, migration: 120_000, duplicateCount: 60_000} as const;

export const keys = {
	up: '\u001B[A',
	down: '\u001B[B',
	enter: '\r',
	escape: '\u001B',
	tab: '\t',
	backspace: '\u007F',
	ctrlC: '\u0003',
	space: ' ',
};

/** The real shell on a real database: a real monitor connection, the real poller and store. */
export async function renderApp(url: string, options: {screen?: ScreenId; size?: {columns: number; rows: number}; state?: Partial<AppState>; config?: Config; monitor?: MonitorOptions; fadeMs?: number} = {}): Promise<RenderedApp> {
	const target = resolveTarget({dsn: url, env: {}});
	const monitor = new Monitor(target, options.monitor);
	await monitor.connect();
	const caps = await detectCapabilities(monitor);
	const store = createAppStore({target: redactTarget(target), caps, connection: monitor.state, screen: options.screen ?? 'overview', ...options.state});
	monitor.on('state', connection => store.setState({connection}));
	const config = options.config ?? defaultConfig;
	const poller = startPoller(store, monitor, loaders(), config);
	let quit = false;
	const jobs = new JobRegistry({fadeMs: options.fadeMs});
	const instance = render(<App services={{store, db: monitor, target, config, jobs, refreshNow: poller.refreshNow, quit: () => (quit = true)}} />);
	const size = options.size ?? {columns: 120, rows: 40};
	// after mount: the shell reads the (fake) stdout's size once on mount
	await waitFor(() => instance.lastFrame() !== undefined);
	store.setState({size});
	const lastFrame = () => instance.lastFrame() ?? '';
	return {
		store,
		jobs,
		monitor,
		poller,
		lastFrame,
		press(key: string) {
			instance.stdin.write(key);
		},
		async waitForFrame(match, message, timeout = screenMs) {
			const test = typeof match === 'function' ? match : (f: string) => match.test(f);
			const what = message ?? (typeof match === 'function' ? 'a frame passing the check' : String(match));
			const started = Date.now();
			try {
				return await waitFor(() => (test(lastFrame()) ? lastFrame() : ''), {timeout});
			} catch {
				throw new Error(`waited ${((Date.now() - started) / 1000).toFixed(1)} s (deadline ${timeout / 1000} s) for ${what}\n--- last frame ---\n${lastFrame()}`);
			}
		},
		quitCalled: () => quit,
		async cleanup() {
			await jobs.cancelAll();
			poller.stop();
			instance.unmount();
			await monitor.close();
		},
	};
}

/** Pastes into a dialog's text field and, once it shows, presses Enter. */
export async function typeConfirm(app: RenderedApp, text: string): Promise<void> {
	app.press(text);
	await app.waitForFrame(f => f.includes(`Esc to cancel: ${text} `), `typed ${text}`);
	app.press(keys.enter);
}
