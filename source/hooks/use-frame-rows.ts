import {chromeRows} from '../app.js';
import {isStale} from '../components/screen-frame.js';
import {fleetRows} from '../components/fleet-strip.js';
import {useAppState} from '../context.js';
import type {ScreenId} from '../keymap.js';

/**
 * Lines a screen's content has inside ScreenFrame: the shell's chrome and
 * spare line off the terminal height, and one more while ScreenFrame shows
 * its STALE line, so a list's last row is never cut off under it.
 */
export function useFrameRows(screen: ScreenId): number {
	return useAppState(st => {
		const slot = st.data[screen];
		const staleLine = slot?.at !== undefined && isStale(slot, st.connection);
		return Math.max(3, st.size.rows - 1 - chromeRows - fleetRows(st) - (staleLine ? 1 : 0));
	});
}
