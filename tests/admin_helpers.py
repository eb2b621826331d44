"""Using the back office as a browser does, in tests."""


def admin_search(client, url: str, term: str, params: dict | None = None):
    """Type `term` into a list's search box: it POSTs with the list's other parameters (the search never
    goes into the address, config.admin_search), and the browser follows to the list."""
    return client.post(url, {**(params or {}), "q": term}, follow=True)


def admin_search_url(client, url: str, term: str, params: dict | None = None) -> str:
    """The address the search box leads to: the list's, with a token standing for `term`."""
    response = client.post(url, {**(params or {}), "q": term})
    assert response.status_code == 302, response
    return response["Location"]
