import {useEffect, useState} from 'react';

/** The time, ticking every second while active: elapsed times on a running job. Idle, it costs no frames. */
export function useTicker(active: boolean): number {
	const [now, setNow] = useState(Date.now());
	useEffect(() => {
		if (!active) return;
		const timer = setInterval(() => setNow(Date.now()), 1000);
		return () => clearInterval(timer);
	}, [active]);
	return active ? now : Date.now();
}
