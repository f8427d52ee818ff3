import {useJobStripRows} from '../components/job-strip.js';
import {isStale} from '../components/screen-frame.js';
import {fleetRows} from '../components/fleet-strip.js';
import {useAppState} from '../context.js';
import type {ScreenId} from '../keymap.js';
import {chromeRows} from '../layout.js';
import type {AppState} from '../store/store.js';

/**
 * Lines between the shell's chrome, where a screen, the help or a dialog
 * shows: the terminal height less the spare line, the chrome, the fleet
 * strips and the job strip's line while it shows. The one place that
 * knows what the shell takes, so nothing under it overflows the terminal.
 */
export function contentRows(st: Pick<AppState, 'size' | 'fleet'>, jobStrip: number): number {
	return Math.max(3, st.size.rows - 1 - chromeRows - fleetRows(st) - jobStrip);
}

export function useContentRows(): number {
	const strip = useJobStripRows();
	return useAppState(st => contentRows(st, strip));
}

/**
 * Lines a screen's content has inside ScreenFrame: the content area less
 * one more while ScreenFrame shows its STALE line, so a list's last row is
 * never cut off under it.
 */
export function useFrameRows(screen: ScreenId): number {
	const area = useContentRows();
	const staleLine = useAppState(st => {
		const slot = st.data[screen];
		return slot?.at !== undefined && isStale(slot, st.connection);
	});
	return Math.max(3, area - (staleLine ? 1 : 0));
}
