import {test} from 'node:test';
import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import {textWidth} from '../source/text-width.js';

test('every BMP character, alone and after a letter (where a mark would join it), measures as string-width measures it', () => {
	const wrong: string[] = [];
	for (let code = 0; code < 0x10000; code++) {
		const ch = String.fromCharCode(code);
		for (const s of [ch, `a${ch}`]) {
			if (textWidth(s) !== stringWidth(s)) wrong.push(`U+${code.toString(16).padStart(4, '0')} in ${JSON.stringify(s)}: ${textWidth(s)} ≠ ${stringWidth(s)}`);
		}
	}
	assert.deepEqual(wrong.slice(0, 20), []);
});

test('what the console draws: styled rows, ellipses, box drawing, wide text, emoji, joiners', () => {
	const samples = [
		'',
		'› 1234  intowork-api  active  12.3s  SELECT * FROM jobs WHERE …',
		'\u001B[32m● live\u001B[39m every 1.0s · postgres (superuser)',
		'─'.repeat(80),
		'▁▂▃▄▅▆▇█ 95.2 %',
		'求人 検索',
		'👩‍💻 dev',
		'e\u0301cole',
		'ｶﾞ',
		'\u0915\u094D\u0937',
		'a\uFE0F',
		'☀\uFE0F sunny',
		'\u001B]0;title\u0007after',
		'tab\there',
	];
	for (const s of samples) assert.equal(textWidth(s), stringWidth(s), JSON.stringify(s));
});
