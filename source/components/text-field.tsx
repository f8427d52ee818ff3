import React, {useEffect, useState} from 'react';
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
	useEffect(() => {
		store.setState({textCapture: true});
		return () => store.setState({textCapture: false});
	}, [store]);
	useInput((input, key) => {
		if (key.escape) return props.onCancel();
		if (key.return) return props.onSubmit(value);
		if (key.backspace || key.delete) {
			const next = [...value].slice(0, -1).join('');
			setValue(next);
			props.onChange?.(next);
			return;
		}
		if (key.ctrl || key.meta || key.tab || key.upArrow || key.downArrow || key.leftArrow || key.rightArrow) return;
		// control characters pasted in would reach the terminal when echoed
		const clean = input.replace(/[\u0000-\u001f\u007f-\u009f]/g, '');
		if (!clean) return;
		const next = value + clean;
		setValue(next);
		props.onChange?.(next);
	});
	return (
		<Text>
			<Text bold>{props.label}</Text>
			{value}
			<Text inverse> </Text>
		</Text>
	);
}
