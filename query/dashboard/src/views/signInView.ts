import { type Api, ApiError } from '../api.ts'
import { field, h, notice, replaceChildren } from '../dom.ts'

/** The sign-in form (and sign-up, for a first account). Resolves the page with a token. */
export function mountSignIn(
  container: HTMLElement,
  api: Api,
  message: string | null,
  onToken: (token: string) => void,
) {
  let creating = false
  const email = h('input', { type: 'email', name: 'email', autocomplete: 'username', required: true })
  const password = h('input', {
    type: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
    minlength: '8',
  })
  const name = h('input', { type: 'text', name: 'name', autocomplete: 'name' })
  const nameField = field('Your name', name)
  nameField.hidden = true
  const status = h('div', {}, message ? notice(message) : null)
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in')
  const heading = h('h1', { id: 'sign-in-title' }, 'Sign in to Hourglass')
  const toggle = h('button', { type: 'button', class: 'link' }, 'Create an account instead')
  const form = h(
    'form',
    { class: 'sign-in', 'aria-labelledby': 'sign-in-title' },
    heading,
    status,
    field('E-mail', email),
    field('Password', password),
    nameField,
    submit,
    toggle,
  )
  toggle.addEventListener('click', () => {
    creating = !creating
    nameField.hidden = !creating
    name.required = creating
    password.autocomplete = creating ? 'new-password' : 'current-password'
    heading.textContent = creating ? 'Create a Hourglass account' : 'Sign in to Hourglass'
    submit.textContent = creating ? 'Create account' : 'Sign in'
    toggle.textContent = creating ? 'I have an account: sign in' : 'Create an account instead'
  })
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    submit.disabled = true
    try {
      const token = creating
        ? await api.signUp(email.value, password.value, name.value)
        : await api.signIn(email.value, password.value)
      onToken(token)
    } catch (error) {
      replaceChildren(status, notice(error instanceof ApiError ? error.message : String(error), 'error'))
    } finally {
      submit.disabled = false
    }
  })
  replaceChildren(container, h('main', { class: 'sign-in-page', id: 'main' }, form))
  email.focus()
}
