import {useLayoutEffect} from 'react';
import {useStdin} from 'ink';

const esc = '\u001B';

/**
 * The keys in one input event as Ink 6 parses a chunk: it keeps CSI and SS3
 * sequences (arrows, Home, PgUp, ...) whole, but hands a run of printable
 * characters over as one event ("2k" pasted, or typed faster than a render
 * over SSH) and reads Esc followed by any character as one meta key. Terminals
 * send those as separate keys, so that is how they are split: each character
 * its own key, and an Esc not starting a known sequence a key of its own.
 */
export function splitKeys(event: string): string[] {
	if (!event.startsWith(esc)) return Array.from(event);
	if (/^\u001B[[O]./u.test(event)) return [event];
	const rest = event.slice(1);
	return rest ? [esc, ...splitKeys(rest)] : [esc];
}

/**
 * Splits each input event into keys and delivers them one at a time, each
 * after the previous one's renders and effects: Esc then "/lock" in one
 * chunk must open the filter before "lock" arrives, or the filter's letters
 * would run as commands (c and k open the cancel and kill dialogs). Ink
 * exposes no hook before its useInput listeners, so the split sits on the
 * event emitter they all listen on.
 */
export function useKeyBursts(): void {
	const {internal_eventEmitter: emitter} = useStdin();
	useLayoutEffect(() => {
		const emit = emitter.emit;
		const queue: string[] = [];
		let timer: NodeJS.Timeout | undefined;
		const pump = () => {
			timer = undefined;
			const key = queue.shift();
			if (key === undefined) return;
			emit.call(emitter, 'input', key);
			// the next key (of this burst, or of another event from the same chunk) a macrotask later:
			// React's passive effects (a text field's own input listener) run first
			timer = setTimeout(pump, 0);
		};
		emitter.emit = function (event: string | symbol, ...args: unknown[]) {
			if (event !== 'input' || typeof args[0] !== 'string') return emit.call(this, event, ...args);
			queue.push(...splitKeys(args[0]));
			if (!timer) pump();
			return true;
		};
		return () => {
			emitter.emit = emit;
			clearTimeout(timer);
		};
	}, [emitter]);
}
