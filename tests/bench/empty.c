/* The empty C program: the cost of exec alone, the baseline of the
 * attach benchmarks. */
int
main(void)
{
	return 0;
}
