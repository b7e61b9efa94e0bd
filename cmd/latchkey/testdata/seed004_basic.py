# Seed 004's Python example of HTTP Basic, unchanged but for the URL, the
# credentials (from the environment) and verify=False for latchkey's
# self-signed development certificate.
import base64
import os

username = os.environ['LK_USERNAME']
password = os.environ['LK_PASSWORD']

# Combine username and password with a colon
credentials = f'{username}:{password}'

# Convert the credentials to bytes
credentials_bytes = credentials.encode('utf-8')

# Encode the bytes in Base64
base64_bytes = base64.b64encode(credentials_bytes)

# Convert the Base64 bytes back to a string
base64_credentials = base64_bytes.decode('utf-8')

# Prepare the Authorization header
headers = {
'Authorization': f'Basic {base64_credentials}'
}

# Example of making a request using the requests library
import requests
import urllib3
urllib3.disable_warnings()

url = os.environ['LK_URL'] + '/api/v1/endpoint'

response = requests.get(url, headers=headers, verify=False)

print(response.status_code)
print(response.text)
