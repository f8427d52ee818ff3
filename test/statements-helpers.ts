import {after} from 'node:test';
import {detectCapabilities} from '../source/db/capabilities.js';
import {resolveTarget} from '../source/db/dsn.js';
import {Monitor} from '../source/db/monitor.js';
import type {LoadContext} from '../source/store/poller.js';
import {defaultThresholds} from '../source/store/store.js';
import {defaultConfig} from '../source/config.js';

/**
 * What the poller hands a loader, on a real monitor connection to `url`;
 * closed when the test file ends (call it at the top level of a test file),
 * or with `cleanup` (a test's own `defer`) when the test does.
 */
export async function loadContext(url: string, cleanup: (fn: () => Promise<void>) => void = after): Promise<LoadContext & {monitor: Monitor}> {
	const monitor = new Monitor(resolveTarget({dsn: url, env: {}}), {minBackoffMs: 100, maxBackoffMs: 500});
	await monitor.connect();
	cleanup(() => monitor.close());
	const caps = await detectCapabilities(monitor);
	return {db: monitor, monitor, caps, thresholds: defaultThresholds, config: defaultConfig, ownPid: monitor.state.backendPid, target: monitor.target};
}
