/* pcsc_reset READER: connects to the card in READER and disconnects with a
 * card reset, as another program on the machine might; every other
 * connection then sees its login state gone. */
#include <stdio.h>
#include <stdlib.h>

#include "apdu/pcsc.h"

int main(int argc, char **argv)
{
	struct pcsc_card *card;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pcsc_reset READER\n");
		return 2;
	}
	rc = pcsc_connect(argv[1], &card);
	if (rc != APDU_OK) {
		printf("reset: %s\n", apdu_rc_name(rc));
		return 1;
	}
	pcsc_disconnect(card, true);
	printf("reset: ok\n");
	return 0;
}
