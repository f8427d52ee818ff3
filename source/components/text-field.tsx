import React, {useLayoutEffect, useRef, useState} from 'react';
import {Text, useInput} from 'ink';
import {useServices} from '../context.js';

/**
 * A one-line input that owns the keyboard while mounted: the keymap's
 * dispatch stands aside (store.textCapture), so typing 'q' into a filter
 * does not quit.
 */
export function TextField(props: {label: string; initial?: string; onChange?(value: string): void; onSubmit(value: string): void; onCancel(): void}) {
	const {store} = useServices();
	const [value, setValue] = useState(props.initial ?? '');
	// Keys can arrive faster than renders (a paste, a fast typist): each one builds on the last, not on the last render.
	const current = useRef(value);
	const update = (next: string) => {
		current.current = next;
		setValue(next);
		props.onChange?.(next);
	};
	// Taken in the same commit as the mount, so no key slips to the keymap in between; given
	// back only after the current key event has reached every listener, so the Enter that
	// submits a field is not also dispatched as a command once the field is gone.
	useLayoutEffect(() => {
		store.setState(s => ({textCapture: s.textCapture + 1}));
		return () => {
			setTimeout(() => store.setState(s => ({textCapture: s.textCapture - 1})), 0);
		};
	}, [store]);
	useInput((input, key) => {
		if (key.escape) return props.onCancel();
		if (key.return) return props.onSubmit(current.current);
		if (key.backspace || key.delete) return update([...current.current].slice(0, -1).join(''));
		if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return;
		// control characters pasted in would reach the terminal when echoed
		const clean = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
		if (clean) update(current.current + clean);
	});
	return (
		<Text>
			<Text bold>{props.label}</Text>
			{value}
			<Text inverse> </Text>
		</Text>
	);
}
