import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import reactHooks from 'eslint-plugin-react-hooks';

export default tseslint.config(
	{ignores: ['dist/', 'node_modules/', 'screenshots/']},
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ['**/*.{ts,tsx}'],
		plugins: {'react-hooks': reactHooks},
		rules: {
			'react-hooks/rules-of-hooks': 'error',
			'react-hooks/exhaustive-deps': 'error',
			// a terminal console and its sanitiser match escape and control characters on purpose
			'no-control-regex': 'off',
			// `const {a: _a, ...rest}` drops a field: the underscore says it is unused on purpose
			'@typescript-eslint/no-unused-vars': ['error', {varsIgnorePattern: '^_', argsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_'}],
			// a closure may read a variable assigned after it is created (cli.tsx's quit and the Ink instance)
			'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
		},
	},
);
