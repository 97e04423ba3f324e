#include "tools/spinner.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct spinner {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	const char *what;
	struct timespec start;
};

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* The wake-up time 100 ms from now, on the clock the condition variable uses. */
static struct timespec tick_deadline(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += 100000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static void *spin(void *arg)
{
	static const char frames[] = "|/-\\";
	struct spinner *s = arg;
	unsigned frame = 0;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct timespec deadline = tick_deadline();

		fprintf(stderr, "\r%c %s %.0fs ", frames[frame++ % 4], s->what, seconds_since(&s->start));
		fflush(stderr);
		while (!s->stop && pthread_cond_timedwait(&s->wake, &s->lock, &deadline) == 0)
			;
	}
	pthread_mutex_unlock(&s->lock);
	fputs("\r\033[K", stderr);
	fflush(stderr);
	return NULL;
}

struct spinner *spinner_start(const char *what)
{
	struct spinner *s;
	pthread_condattr_t attr;

	if (!isatty(STDERR_FILENO))
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->what = what;
	clock_gettime(CLOCK_MONOTONIC, &s->start);
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&s->thread, NULL, spin, s) != 0) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	return s;
}

void spinner_stop(struct spinner *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
