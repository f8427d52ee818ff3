import {useJobStripRows} from '../components/job-strip.js';
import {isStale} from '../components/screen-frame.js';
import {fleetRows} from '../components/fleet-strip.js';
import {useAppState} from '../context.js';
import type {ScreenId} from '../keymap.js';
import {chromeRows} from '../layout.js';

/**
 * Lines a screen's content has inside ScreenFrame: the shell's chrome and
 * spare line off the terminal height, the job strip's line while it shows,
 * and one more while ScreenFrame shows
 * its STALE line, so a list's last row is never cut off under it.
 */
export function useFrameRows(screen: ScreenId): number {
	const strip = useJobStripRows();
	const rows = useAppState(st => {
		const slot = st.data[screen];
		const staleLine = slot?.at !== undefined && isStale(slot, st.connection);
		return st.size.rows - 1 - chromeRows - fleetRows(st) - (staleLine ? 1 : 0);
	});
	return Math.max(3, rows - strip);
}
