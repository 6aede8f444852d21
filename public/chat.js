// The chat page: the client module against this service, on the page's own origin. Everything
// a message holds is shown as text (textContent), never parsed as HTML.
import { ChatClient } from './client/index.js'

const service = new URL('.', location.href)
const connectForm = document.querySelector('#connect')
const composeForm = document.querySelector('#compose')
const messages = document.querySelector('#messages')
const stateLine = document.querySelector('#state')
const errorLine = document.querySelector('#error')
const { token: tokenField, channel: channelField } = connectForm.elements
const { content: contentField, send: sendButton } = composeForm.elements

const stateText = {
  idle: 'not connected',
  connecting: 'connecting…',
  open: 'connected',
  reconnecting: 'reconnecting…',
  closed: 'disconnected'
}

let client

connectForm.addEventListener('submit', (event) => {
  event.preventDefault()
  client?.close()
  messages.replaceChildren()
  showError('')
  const current = new ChatClient({
    url: service,
    channel: channelField.value.trim(),
    // Read on every reconnect: a token pasted after the old one expired is picked up.
    getToken: () => tokenField.value.trim(),
    history: 50
  })
  client = current
  current.on('state', (state) => { if (client === current) showState(state) })
  current.on('message', (message) => { if (client === current) show(message) })
  current.on('error', (error) => { if (client === current) showError(error.message) })
  current.connect()
  sendButton.disabled = false
})

composeForm.addEventListener('submit', async (event) => {
  event.preventDefault()
  const content = contentField.value
  if (client === undefined || content.trim() === '') return
  contentField.value = ''
  try {
    // While reconnecting the message waits, and is sent once the connection is back.
    await client.send(content)
  } catch (error) {
    showError(`Not sent: ${error.message}`)
    if (contentField.value === '') contentField.value = content
  }
})

contentField.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
    event.preventDefault()
    composeForm.requestSubmit()
  }
})

function show (message) {
  const item = document.createElement('li')
  item.dataset.id = message.id
  const time = document.createElement('time')
  time.dateTime = message.createdAt
  time.textContent = new Date(message.createdAt).toLocaleTimeString()
  item.append(textElement('span', 'sender', message.sender), time, textElement('p', 'content', message.content))
  messages.append(item)
  item.scrollIntoView({ block: 'nearest' })
}

function textElement (tag, className, text) {
  const element = document.createElement(tag)
  element.className = className
  element.textContent = text
  return element
}

function showState (state) {
  stateLine.dataset.state = state
  stateLine.textContent = stateText[state]
}

function showError (text) {
  errorLine.textContent = text
  errorLine.hidden = text === ''
}
